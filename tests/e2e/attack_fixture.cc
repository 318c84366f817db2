#include "tests/e2e/attack_fixture.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <future>
#include <set>
#include <thread>

namespace sprout::testing {

const char kPythonPrelude[] = R"PY(# --- attack-test prelude (tests/e2e/attack_fixture.cc) ---
import ctypes, errno, json, os, signal, struct, sys, time

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def sys_call(nr, *args):
    conv = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    ctypes.set_errno(0)
    ret = _libc.syscall(ctypes.c_long(nr), *conv)
    err = ctypes.get_errno() if ret == -1 else 0
    return {"ret": ret, "errno": err, "err": errno.errorcode.get(err, "")}


def set_comm(name):
    sys_call(157, 15, ctypes.c_char_p(name.encode()), 0, 0, 0)  # prctl(PR_SET_NAME)


TAG = os.environ.get("SPROUT_TEST_TAG", "")
if TAG:
    set_comm(TAG)

FORKING = [False]


def in_child(fn):
    r, w = os.pipe()
    FORKING[0] = True
    try:
        pid = os.fork()
    except OSError as e:
        FORKING[0] = False
        os.close(r)
        os.close(w)
        return {"fork_failed": e.errno, "err": errno.errorcode.get(e.errno, "")}
    if pid == 0:
        os.close(r)
        try:
            out = json.dumps({"result": fn()})
        except BaseException as e:
            out = json.dumps({"exception": repr(e)})
        try:
            os.write(w, out.encode())
        finally:
            os._exit(0)
    FORKING[0] = False
    os.close(w)
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        return {"killed_by": os.WTERMSIG(status)}
    try:
        return json.loads(data.decode())
    except ValueError:
        return {"exit_status": status}


def kill_probe(pid):
    try:
        os.kill(pid, 0)
        return {"ok": True, "errno": 0, "err": ""}
    except OSError as e:
        return {"ok": False, "errno": e.errno, "err": errno.errorcode.get(e.errno, "")}
# --- end of prelude ---
)PY";

std::string Invoked::describe() const {
  if (!answered) return "no answer: " + detail;
  return api::Status_Name(status) + (detail.empty() ? "" : " (" + detail + ")") +
         " result=" + result + (logs.empty() ? "" : " logs=" + logs);
}

void AttackTest::SetUp() {
  DaemonTest::SetUp();
  if (IsSkipped()) return;
  // "sx" + 5 hex digits: unique to this test run, short enough to leave a
  // suffix of 8 within the 15 bytes of a comm.
  prefix_ = "sx" + random_hex(5);
}

void AttackTest::TearDown() {
  DaemonTest::TearDown();
  if (prefix_.empty()) return;
  // Whatever a successful attack left running (daemons, helpers), and the
  // test's own sleepers.
  for (pid_t pid : sleepers_) stop_sleeper(pid);
  sleepers_.clear();
  int leftovers = kill_processes_with_prefix(prefix_);
  if (leftovers > 0) {
    std::printf("[ cleanup  ] killed %d leftover process(es) named %s*\n", leftovers,
                prefix_.c_str());
    wait_until(
        [&] {
          for (const auto& p : processes_with_prefix(prefix_))
            if (p.state != 'Z') return false;
          return true;
        },
        std::chrono::seconds(10));
  }
  // The cgroups of a sproutd that could not remove them (populated by a
  // leftover when it stopped).
  for (pid_t daemon : daemons_) {
    const std::string name = "sproutd-" + std::to_string(daemon);
    if (!cgroup_dirs_named(name).empty()) {
      wait_until([&] { return remove_cgroup_trees_named(name), cgroup_dirs_named(name).empty(); },
                 std::chrono::seconds(10));
    }
  }
}

void AttackTest::start(const std::vector<std::string>& flags) {
  start_daemon(flags);
  daemons_.push_back(daemon_);
}

bool AttackTest::daemon_running() const {
  if (daemon_ <= 0) return false;
  auto info = read_process(daemon_);
  return info && info->state != 'Z' && info->state != 'X';
}

CommandResult AttackTest::cli(const std::vector<std::string>& args, std::chrono::seconds bound) {
  CommandResult result;
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return result;
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return result;
  }
  std::vector<std::string> all{SPROUT_CLI_PATH};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& arg : all) argv.push_back(arg.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    setenv("SPROUT_SOCKET", socket_.c_str(), 1);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  const auto deadline = std::chrono::steady_clock::now() + bound;
  bool timed_out = false;
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    int ready = poll(fds, 2, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[65536];
      ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        (i == 0 ? result.out : result.err).append(buffer, n);
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& fd : fds)
    if (fd.fd >= 0) close(fd.fd);
  if (timed_out) kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = timed_out ? -2 : WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  if (timed_out) {
    result.err += "[sprout " + (args.empty() ? std::string() : args[0]) + " killed after " +
                  std::to_string(bound.count()) + " s]";
  }
  return result;
}

std::string AttackTest::tag(const std::string& suffix) const {
  std::string name = prefix_ + suffix;
  if (name.size() > 15) name.resize(15);
  return name;
}

Deployed AttackTest::deploy(const std::string& name, const std::string& body,
                            const std::string& comm, const std::vector<std::string>& extra) {
  const std::string file = write_temp_file("code-" + name + "-" + random_hex(6) + "/handler.py",
                                           std::string(kPythonPrelude) + body);
  std::vector<std::string> flags;
  if (!comm.empty()) {
    flags.push_back("--env");
    flags.push_back("SPROUT_TEST_TAG=" + comm);
  }
  flags.insert(flags.end(), extra.begin(), extra.end());
  return deploy_file(name, "python3", file, flags);
}

Deployed AttackTest::deploy_file(const std::string& name, const std::string& runtime,
                                 const std::string& path, const std::vector<std::string>& extra) {
  std::vector<std::string> args{"deploy", name, "--runtime", runtime, "--code", path, "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto result = cli(args);
  Deployed deployed;
  deployed.exit_code = result.exit_code;
  deployed.text = result.out + result.err;
  if (auto json = Json::parse(result.out)) deployed.json = std::move(*json);
  return deployed;
}

Invoked AttackTest::invoke(const std::string& name, const std::string& payload,
                           std::chrono::seconds bound) {
  Invoked invoked;
  auto client = Client::connect(socket_);
  if (!client) {
    invoked.detail = client.error().message;
    return invoked;
  }
  // The client's futures are deferred (the waiting caller reads the
  // answer), so the call runs on a thread of its own and is waited for here.
  std::promise<ClientResult<api::InvokeResponse>> promise;
  auto answer = promise.get_future();
  std::thread caller([&] { promise.set_value((*client)->invoke(name, payload)); });
  if (answer.wait_for(bound) != std::future_status::ready) {
    // The call ends only with the connection: end the daemon (the test has
    // failed anyway), which closes it.
    ADD_FAILURE() << "invoke " << name << " did not answer within " << bound.count()
                  << " s; killing sproutd";
    kill(daemon_, SIGKILL);
    caller.join();
    invoked.detail = "no answer within " + std::to_string(bound.count()) + " s";
    return invoked;
  }
  caller.join();
  auto response = answer.get();
  if (!response) {
    invoked.detail = api::Status_Name(response.error().status) + ": " + response.error().message;
    return invoked;
  }
  invoked.answered = true;
  invoked.status = response->status();
  invoked.detail = response->detail();
  invoked.result = response->result();
  invoked.logs = response->logs();
  invoked.preforked = response->metrics().preforked();
  if (auto json = Json::parse(invoked.result)) invoked.json = std::move(*json);
  return invoked;
}

Json AttackTest::cli_json(std::vector<std::string> args) {
  args.push_back("--json");
  auto result = cli(args, std::chrono::seconds(30));
  auto json = Json::parse(result.out);
  return json ? *json : Json();
}

int AttackTest::idle_sandboxes(const std::string& name) {
  Json listed = cli_json({"ls"});
  for (const auto& function : listed["functions"].items())
    if (function["name"].as_string() == name)
      return static_cast<int>(function["idle_sandboxes"].as_int());
  return -1;
}

std::optional<ProcessInfo> AttackTest::snapshot_of(const std::string& comm,
                                                   std::chrono::milliseconds wait) {
  std::optional<ProcessInfo> found;
  wait_until(
      [&] {
        found.reset();
        auto named = processes_named(comm);
        std::set<pid_t> pids;
        for (const auto& p : named) pids.insert(p.pid);
        for (const auto& p : named) {
          if (p.state == 'Z') continue;
          // Outermost pid namespace first; among equals, the one whose
          // parent is not of the same function.
          if (!found || p.nspid.size() < found->nspid.size() ||
              (p.nspid.size() == found->nspid.size() && !pids.count(p.ppid) &&
               pids.count(found->ppid)))
            found = p;
        }
        return found.has_value();
      },
      wait);
  return found;
}

std::vector<ProcessInfo> AttackTest::zygotes() {
  std::vector<ProcessInfo> found;
  const std::string host_pid_ns = namespace_of(daemon_, "pid");
  for (const auto& p : descendants(daemon_)) {
    if (p.state == 'Z' || p.comm != "sprout-agent") continue;
    if (namespace_of(p.pid, "pid") != host_pid_ns) continue;
    if (process_cmdline(p.pid).find("--runtime") == std::string::npos) continue;
    found.push_back(p);
  }
  return found;
}

pid_t AttackTest::sleeper_as(uid_t uid, gid_t gid, const std::string& comm) {
  pid_t pid = start_sleeper_as(uid, gid, comm);
  if (pid > 0) sleepers_.push_back(pid);
  return pid;
}

}  // namespace sprout::testing
