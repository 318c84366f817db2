// A real sproutd with its HTTP front door on an ephemeral loopback port,
// for the HTTP e2e tests: started with --http-listen 127.0.0.1:0, its
// "sproutd: http listening on ADDR:PORT" and "sproutd: ready on PATH"
// lines read from its stdout; plus the small clients the tests use (a raw
// HTTP exchange over a socket, a command run with its output).
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "sprout/client.h"

namespace sprout::testing {

struct HttpReply {
  int status = 0;  // 0: no answer (the connection closed first)
  std::multimap<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const;
};

struct CommandOutput {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

class HttpDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // Starts sproutd with `config_text` as its --config (when not empty) and
  // `flags`; fails the test when it does not print both lines.
  void start_daemon(const std::string& config_text = "",
                    const std::vector<std::string>& flags = {});
  int stop_daemon();
  std::unique_ptr<Client> connect();
  // Deploys a python3 function (handler "handler.handler").
  void deploy_python(const std::string& name, const std::string& source,
                     const std::function<void(api::FunctionSpec&)>& adjust = {});

  // One request on a fresh connection: `raw` is sent as it is, the answer
  // read until its end (Content-Length) or the connection's close.
  HttpReply exchange(const std::string& raw);
  HttpReply request(const std::string& method, const std::string& target,
                    const std::string& body = "",
                    const std::vector<std::string>& headers = {});
  int connect_tcp();
  // Reads one answer from a connected socket.
  static HttpReply read_reply(int fd);

  // Runs argv with the AWS environment of this daemon (dummy credentials,
  // no config files, no network), output captured.
  CommandOutput run(const std::vector<std::string>& argv);
  std::string endpoint_url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  std::string write_file(const std::string& name, const std::string& contents);

  std::string dir_;
  std::string socket_;
  std::string daemon_log_;
  pid_t daemon_ = -1;
  int port_ = 0;
  std::string access_key_ = "AKIDSPROUTTEST";
  std::string secret_key_ = "sprout-test-secret";
};

}  // namespace sprout::testing
