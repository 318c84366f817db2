#include "tests/http_management/management_daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "tests/support/sproutd_launch.h"
#include "tests/support/wait_until.h"

namespace sprout::testing {
void ManagementDaemonTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "end-to-end tests run sproutd as root";
  if (access("/usr/bin/aws", X_OK) != 0) GTEST_SKIP() << "Debian's awscli is not installed";
  char pattern[] = "/tmp/sprout-test-mgmt-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  dir_ = pattern;
  // Dummy credentials, in files of this test only, never the machine's.
  std::ofstream(dir_ + "/aws-config") << "[default]\nregion = us-east-1\n";
  std::ofstream(dir_ + "/aws-credentials")
      << "[default]\naws_access_key_id = AKIDSPROUTTEST\naws_secret_access_key = dummy-secret\n";
  // The same key for sproutd: the clients sign every request, and a signed
  // request is verified even from loopback.
  std::ofstream(dir_ + "/sproutd.conf")
      << "http_credentials { access_key_id: \"AKIDSPROUTTEST\" "
         "secret_access_key: \"dummy-secret\" }\n";
  environment_ = {"PATH=/usr/bin:/bin",
                  "HOME=" + dir_,
                  "LANG=C.UTF-8",
                  "AWS_CONFIG_FILE=" + dir_ + "/aws-config",
                  "AWS_SHARED_CREDENTIALS_FILE=" + dir_ + "/aws-credentials",
                  "AWS_ACCESS_KEY_ID=AKIDSPROUTTEST",
                  "AWS_SECRET_ACCESS_KEY=dummy-secret",
                  "AWS_DEFAULT_REGION=us-east-1",
                  "AWS_EC2_METADATA_DISABLED=true",
                  "AWS_PAGER=",
                  "AWS_RETRY_MODE=standard",
                  "AWS_MAX_ATTEMPTS=1"};

  std::vector<std::string> args{SPROUTD_PATH,   "--socket",      dir_ + "/sprout.sock",
                                "--state-dir",  dir_ + "/state", "--http-listen",
                                "127.0.0.1:0",  "--config",      dir_ + "/sproutd.conf"};
  // Generous: a loaded machine starts slowly.
  LaunchedDaemon launched = launch_sproutd(args, dir_ + "/sproutd.log", dir_ + "/sprout.sock",
                                           std::chrono::seconds(60));
  ASSERT_GT(launched.pid, 0) << launched.error;
  daemon_ = launched.pid;
  ASSERT_FALSE(launched.http_endpoint.empty()) << "no http line before the ready line";
  endpoint_ = "http://" + launched.http_endpoint;
}

void ManagementDaemonTest::TearDown() {
  if (daemon_ > 0) {
    if (stop_sproutd(daemon_, std::chrono::seconds(20)).killed)
      ADD_FAILURE() << "sproutd did not stop within 20 s of SIGTERM";
    daemon_ = -1;
  }
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

CommandOutput ManagementDaemonTest::run(const std::vector<std::string>& argv_strings) const {
  int out[2], err[2];
  CommandOutput result;
  if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) return result;
  std::vector<std::string> args = argv_strings;
  std::vector<std::string> env = environment_;
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(err[1], STDERR_FILENO);
    const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    dup2(null_fd, STDIN_FILENO);
    if (chdir(dir_.c_str()) != 0) _exit(126);
    std::vector<char*> argv, envp;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    for (auto& entry : env) envp.push_back(entry.data());
    envp.push_back(nullptr);
    execve(argv[0], argv.data(), envp.data());
    _exit(127);
  }
  close(out[1]);
  close(err[1]);
  // Both pipes at once: a client that fills stderr must not block stdout.
  pollfd fds[2] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}};
  std::string* sinks[2] = {&result.out, &result.err};
  int open_pipes = 2;
  while (open_pipes > 0) {
    if (poll(fds, 2, -1) < 0) break;
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
      char buffer[65536];
      const ssize_t n = read(fds[i].fd, buffer, sizeof buffer);
      if (n > 0) {
        sinks[i]->append(buffer, static_cast<size_t>(n));
      } else {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_pipes;
      }
    }
  }
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

CommandOutput ManagementDaemonTest::aws_lambda(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"/usr/bin/aws", "lambda"};
  argv.insert(argv.end(), args.begin(), args.end());
  for (const char* extra : {"--endpoint-url", endpoint_.c_str(), "--output", "json"})
    argv.emplace_back(extra);
  return run(argv);
}

std::string ManagementDaemonTest::make_zip(
    const std::string& file_name,
    const std::vector<std::pair<std::string, std::string>>& files) const {
  // The contents go through files, not the command line, to keep them
  // byte-exact.
  std::string script =
      "import sys, zipfile\n"
      "with zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z:\n"
      "    for i in range(2, len(sys.argv), 2):\n"
      "        z.write(sys.argv[i + 1], sys.argv[i])\n";
  std::vector<std::string> argv{"/usr/bin/python3", "-c", script, dir_ + "/" + file_name};
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string source = dir_ + "/zip-source-" + std::to_string(i);
    std::ofstream(source, std::ios::binary) << files[i].second;
    argv.push_back(files[i].first);
    argv.push_back(source);
  }
  CommandOutput made = run(argv);
  EXPECT_EQ(made.exit_code, 0) << made.err;
  return dir_ + "/" + file_name;
}

std::string ManagementDaemonTest::read_file(const std::string& path) const {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace sprout::testing
