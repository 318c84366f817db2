// A real sproutd with its HTTP listener on a loopback port of its choosing
// (--http-listen 127.0.0.1:0), a temporary socket and state directory, and
// helpers to deploy, invoke and read /metrics. Root only (sproutd's
// sandboxes); the test is skipped otherwise.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "sprout/client.h"

namespace sprout::testing {

class MetricsDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts sproutd (extra flags appended); throws when it does not get ready.
  void start_daemon(const std::vector<std::string>& flags = {});
  // SIGTERM, and waits for it to end (SIGKILL after 20 s, a failure).
  void stop_daemon();

  std::unique_ptr<Client> connect();
  // A python3 function from source text (handler "handler.handler").
  void deploy_python(Client& client, const std::string& name, const std::string& source,
                     uint32_t timeout_ms = 3000, uint32_t max_concurrency = 16);
  // GET http://127.0.0.1:<port><path> with curl; fails the test on an error.
  std::string http_get(const std::string& path);
  // The value of one series in /metrics text ("name{labels}"), if present.
  static std::optional<std::string> sample(const std::string& text, const std::string& series);

  std::string dir_;
  std::string socket_;
  std::string state_;
  std::string log_;
  uint16_t http_port_ = 0;
  pid_t daemon_ = -1;
};

}  // namespace sprout::testing
