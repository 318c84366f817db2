// Runs the real sproutd binary on a temporary socket and state directory,
// and the real sprout CLI against it.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "sprout/client.h"

namespace sprout::testing {

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class DaemonTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts sproutd (extra flags appended) and waits for its ready line.
  void start_daemon(const std::vector<std::string>& flags = {});
  // SIGTERM, then waits for exit; returns the exit status.
  int stop_daemon();
  std::unique_ptr<Client> connect();
  CommandResult sprout(const std::vector<std::string>& args);
  // Deploys a python3 function from source text; asserts success.
  void deploy_python(const std::string& name, const std::string& source,
                     const std::vector<std::string>& extra = {});
  std::string write_temp_file(const std::string& name, const std::string& contents);
  std::vector<pid_t> daemon_children();

  std::string dir_;
  std::string socket_;
  std::string state_;
  pid_t daemon_ = -1;
  std::string daemon_log_;
};

}  // namespace sprout::testing
