// The exec runtime: any executable in the bundle. The sandbox's pid 1 (the
// agent) forks it with the payload on stdin (a memfd, so a large payload
// never blocks on a pipe) and its stdout captured as the result; a non-zero
// exit is a function error. Its stderr goes to the invocation's log.
// The executable gets stdin, stdout and stderr only: never the invocation
// channel, on which it could forge the agent's answer. The agent makes
// itself non-dumpable first, so that the executable (same uid, no
// capabilities) cannot open the agent's memory through /proc/1/mem either.
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/runtime.h"
#include "base/unique_fd.h"
#include "protocol/limits.h"
#include "sandbox/exec_child.h"


namespace sprout::agent {
namespace {

constexpr size_t kMaxResultBytes = limits::kMaxResultBytes;

class ExecRuntime final : public Runtime {
 public:
  Result<void> initialize(const std::vector<std::string>&) override { return {}; }

  InitResult load(const LoadFunction& load) override {
    InitResult refused;
    auto path = handler_path(load.handler(), "an executable", &refused);
    if (!path) return refused;
    path_ = *path;
    if (access(path_.c_str(), X_OK) != 0) {
      return init_error("Runtime.InvalidEntrypoint",
                        path_ + " is not executable: " + strerror(errno));
    }
    InitResult ok;
    ok.set_ok(true);
    return ok;
  }

  InvokeReply invoke(const InvokeRequest& request) override {
    UniqueFd input(memfd_create("sprout-payload", MFD_CLOEXEC));
    if (!input || write(input.get(), request.payload().data(), request.payload().size()) !=
                      static_cast<ssize_t>(request.payload().size())) {
      return function_error("Runtime.Unknown", std::string("payload memfd: ") + strerror(errno));
    }
    lseek(input.get(), 0, SEEK_SET);
    int out[2];
    if (pipe2(out, O_CLOEXEC) != 0)
      return function_error("Runtime.Unknown", std::string("pipe: ") + strerror(errno));
    UniqueFd read_end(out[0]), write_end(out[1]);
    // The child's plan, as plain data, before the fork: the payload on 0,
    // the result pipe on 1, the agent's stderr (the invocation's log) on 2,
    // nothing else (sandbox/exec_child.h).
    const DescriptorMove moves[] = {
        {.from = input.get(), .to = STDIN_FILENO},
        {.from = write_end.get(), .to = STDOUT_FILENO},
        {.from = STDERR_FILENO, .to = STDERR_FILENO, .if_open = true},
    };
    char* const argv[] = {path_.data(), nullptr};
    const ExecChildPlan plan{.descriptor_moves = moves,
                             .descriptor_move_count = std::size(moves),
                             .path = path_.c_str(),
                             .argv = argv,
                             .envp = environ,
                             .exec_stage = ChildStage::kExec};
    prctl(PR_SET_DUMPABLE, 0);
    pid_t child = fork();
    if (child < 0)
      return function_error("Runtime.Unknown", std::string("fork: ") + strerror(errno));
    // No report channel: a failure is one line on the invocation's log and
    // exit status 127.
    if (child == 0) run_exec_child(plan, -1);
    write_end.reset();
    std::string result;
    char buffer[65536];
    bool truncated = false;
    for (;;) {
      ssize_t n = retry_eintr([&] { return read(read_end.get(), buffer, sizeof buffer); });
      if (n <= 0) break;
      if (result.size() + n > kMaxResultBytes) {
        truncated = true;
        continue;  // keep draining so the program is not stuck on a full pipe
      }
      result.append(buffer, n);
    }
    int status = 0;
    retry_eintr([&] { return waitpid(child, &status, 0); });
    if (WIFSIGNALED(status)) {
      return function_error("Runtime.ExitError",
                            std::string("killed by signal ") + sigabbrev_np(WTERMSIG(status)));
    }
    if (WEXITSTATUS(status) != 0) {
      return function_error("Runtime.ExitError",
                            "exited with status " + std::to_string(WEXITSTATUS(status)));
    }
    if (truncated) return function_error("Runtime.ResponseTooLarge", "stdout exceeded 6 MiB");
    InvokeReply reply;
    reply.set_kind(InvokeReply::OK);
    reply.set_result(std::move(result));
    return reply;
  }

 private:
  std::string path_;
};

}  // namespace

std::unique_ptr<Runtime> make_exec_runtime() { return std::make_unique<ExecRuntime>(); }

}  // namespace sprout::agent
