#include "bench/sprout_bench/peers.h"

#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace sprout::bench {
namespace fs = std::filesystem;

std::vector<std::string> all_peer_names() { return {"plain", "bwrap", "runc", "crun", "criu"}; }

int run_command(const std::vector<std::string>& argv, const std::string& input,
                std::string* error_line) {
  int in[2], err[2];
  if (pipe2(in, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid == 0) {
    dup2(in[0], STDIN_FILENO);
    int null_fd = open("/dev/null", O_WRONLY);
    dup2(null_fd, STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    std::vector<char*> args;
    for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    dprintf(STDERR_FILENO, "%s: not installed (%s)\n", args[0], strerror(errno));
    _exit(127);
  }
  close(in[0]);
  close(err[1]);
  // The peer reads its payload whole before it writes anything; a peer that
  // fails first closes the pipe (EPIPE, SIGPIPE ignored by sprout-bench).
  for (size_t done = 0; done < input.size();) {
    ssize_t n = write(in[1], input.data() + done, input.size() - done);
    if (n <= 0) break;
    done += static_cast<size_t>(n);
  }
  close(in[1]);
  std::string errors;
  char buffer[4096];
  ssize_t n;
  while ((n = read(err[0], buffer, sizeof buffer)) > 0) errors.append(buffer, n);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (error_line) {
    auto end = errors.find('\n');
    *error_line = errors.substr(0, end);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::vector<std::string> Peer::command(const PeerWorkload& workload) {
  // Inside the isolating peers: code at /var/task, the runner at /opt/runner.
  const std::vector<std::string> inside =
      workload.native
          ? std::vector<std::string>{"/opt/runner", "/var/task/" + workload.native_library}
          : std::vector<std::string>{"/usr/bin/python3.11", "-B", "/opt/runner", "/var/task"};
  const std::string runner = workload.native ? paths_.native_runner : paths_.python_runner;
  if (name_ == "plain") {
    if (workload.native)
      return {paths_.native_runner, workload.code_dir + "/" + workload.native_library};
    return {"/usr/bin/python3.11", "-B", paths_.python_runner, workload.code_dir};
  }
  if (name_ == "bwrap") {
    // Comparable to a sprout sandbox: every namespace bwrap can unshare, a
    // read-only /usr, fresh /proc, /dev and /tmp.
    std::vector<std::string> argv{"bwrap",         "--unshare-all", "--die-with-parent",
                                  "--new-session", "--ro-bind",     "/usr",
                                  "/usr",          "--symlink",     "usr/lib",
                                  "/lib",          "--symlink",     "usr/lib64",
                                  "/lib64",        "--symlink",     "usr/bin",
                                  "/bin",          "--ro-bind",     workload.code_dir,
                                  "/var/task",     "--ro-bind",     runner,
                                  "/opt/runner",   "--proc",        "/proc",
                                  "--dev",         "/dev",          "--tmpfs",
                                  "/tmp",          "--chdir",       "/var/task"};
    argv.insert(argv.end(), inside.begin(), inside.end());
    return argv;
  }
  if (name_ == "runc" || name_ == "crun") {
    const std::string bundle = prepare_bundle(workload);
    return {name_,
            "--root",
            paths_.work_dir + "/" + name_ + "-state",
            "run",
            "--bundle",
            bundle,
            "sprout-bench-" + std::to_string(getpid()) + "-" + std::to_string(counter_++)};
  }
  return {};
}

// An OCI bundle with no cgroup resources (runc on this host's hybrid layout
// works only so), a read-only root holding /usr, the code and the runner.
std::string Peer::prepare_bundle(const PeerWorkload& workload) {
  std::string bundle = paths_.work_dir + "/bundle-" + name_ + "-" + workload.name;
  if (fs::exists(bundle + "/config.json")) return bundle;
  const std::string rootfs = bundle + "/rootfs";
  for (const char* dir : {"usr", "var/task", "opt", "proc", "dev", "tmp", "etc"})
    fs::create_directories(rootfs + "/" + dir);
  std::ofstream(rootfs + "/opt/runner").close();
  for (const auto& [link, target] :
       {std::pair{"lib", "usr/lib"}, {"lib64", "usr/lib64"}, {"bin", "usr/bin"}}) {
    std::error_code ignored;
    fs::create_symlink(target, rootfs + "/" + link, ignored);
  }
  const std::string runner = workload.native ? paths_.native_runner : paths_.python_runner;
  std::string args = workload.native
                         ? "\"/opt/runner\", \"/var/task/" + workload.native_library + "\""
                         : "\"/usr/bin/python3.11\", \"-B\", \"/opt/runner\", \"/var/task\"";
  auto bind = [](const std::string& source, const std::string& target) {
    return "{\"destination\": \"" + target + "\", \"type\": \"bind\", \"source\": \"" + source +
           "\", \"options\": [\"rbind\", \"ro\", \"nosuid\", \"nodev\"]}";
  };
  std::ofstream(bundle + "/config.json")
      << "{\"ociVersion\": \"1.0.2\",\n"
         " \"process\": {\"terminal\": false, \"user\": {\"uid\": 0, \"gid\": 0}, \"args\": ["
      << args
      << "],\n"
         "   \"env\": [\"PATH=/usr/bin:/bin\"], \"cwd\": \"/var/task\", \"noNewPrivileges\": "
         "true,\n"
         "   \"capabilities\": {\"bounding\": [], \"effective\": [], \"permitted\": [], "
         "\"inheritable\": [], \"ambient\": []}},\n"
         " \"root\": {\"path\": \"rootfs\", \"readonly\": true},\n"
         " \"hostname\": \"peer\",\n"
         " \"mounts\": [{\"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\"},\n"
         "   {\"destination\": \"/dev\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": "
         "[\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]},\n"
         "   {\"destination\": \"/tmp\", \"type\": \"tmpfs\", \"source\": \"tmpfs\", \"options\": "
         "[\"nosuid\", \"nodev\", \"size=65536k\"]},\n"
         "   "
      << bind("/usr", "/usr") << ",\n   " << bind(workload.code_dir, "/var/task") << ",\n   "
      << bind(runner, "/opt/runner")
      << "],\n"
         " \"linux\": {\"namespaces\": [{\"type\": \"pid\"}, {\"type\": \"network\"}, {\"type\": "
         "\"ipc\"}, {\"type\": \"uts\"}, {\"type\": \"mount\"}],\n"
         "   \"maskedPaths\": [\"/proc/kcore\", \"/proc/keys\", \"/proc/timer_list\"],\n"
         "   \"readonlyPaths\": [\"/proc/sys\", \"/proc/sysrq-trigger\"]}}\n";
  return bundle;
}

bool Peer::available(const PeerWorkload& workload, std::string* reason) {
  if (name_ == "criu") {
    // The peer would be a CRIU restore of a pre-initialized interpreter; it
    // is measured only where CRIU itself works on the kernel.
    std::string line;
    int rc = run_command({"criu", "check"}, "", &line);
    if (rc != 0) {
      *reason =
          "criu check fails here (" + (line.empty() ? "exit " + std::to_string(rc) : line) + ")";
      return false;
    }
    *reason = "criu check passes, but a restore peer is not implemented in sprout-bench";
    return false;
  }
  std::string error;
  if (!run_once(workload, &error)) {
    *reason = error;
    return false;
  }
  return true;
}

bool Peer::run_once(const PeerWorkload& workload, std::string* error) {
  std::string line;
  int rc = run_command(command(workload), workload.payload, &line);
  if (rc != 0) {
    *error = name_ + " exited " + std::to_string(rc) + (line.empty() ? "" : ": " + line);
    return false;
  }
  return true;
}

}  // namespace sprout::bench
