#include "tests/http/http_daemon.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "tests/support/sproutd_launch.h"

namespace sprout::testing {

std::string HttpReply::header(const std::string& name) const {
  auto it = headers.find(name);
  return it == headers.end() ? std::string() : it->second;
}

void HttpDaemonTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "end-to-end tests run sproutd as root";
  char pattern[] = "/tmp/sprout-test-http-XXXXXX";
  ASSERT_NE(mkdtemp(pattern), nullptr);
  dir_ = pattern;
  socket_ = dir_ + "/run/sprout.sock";
  daemon_log_ = dir_ + "/sproutd.log";
}

void HttpDaemonTest::TearDown() {
  if (daemon_ > 0) stop_daemon();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

std::string HttpDaemonTest::write_file(const std::string& name, const std::string& contents) {
  std::string path = dir_ + "/" + name;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary | std::ios::trunc) << contents;
  return path;
}

void HttpDaemonTest::start_daemon(const std::string& config_text,
                                  const std::vector<std::string>& flags) {
  std::vector<std::string> args{SPROUTD_PATH, "--socket",      socket_,
                                "--state-dir", dir_ + "/state", "--http-listen",
                                "127.0.0.1:0"};
  if (!config_text.empty()) {
    args.push_back("--config");
    args.push_back(write_file("sproutd.conf", config_text));
  }
  args.insert(args.end(), flags.begin(), flags.end());
  // Generous: a loaded machine is slow.
  LaunchedDaemon launched = launch_sproutd(args, daemon_log_, socket_, std::chrono::seconds(60));
  ASSERT_GT(launched.pid, 0) << launched.error;
  daemon_ = launched.pid;
  ASSERT_GT(launched.http_port, 0) << "no http line before the ready line";
  port_ = launched.http_port;
}

int HttpDaemonTest::stop_daemon() {
  if (daemon_ <= 0) return -1;
  const StoppedDaemon stopped = stop_sproutd(daemon_, std::chrono::seconds(30));
  if (stopped.killed) ADD_FAILURE() << "sproutd did not stop within 30 s of SIGTERM";
  daemon_ = -1;
  return stopped.exit_code;
}

std::unique_ptr<Client> HttpDaemonTest::connect() {
  auto client = Client::connect(socket_);
  if (!client) throw std::runtime_error("connect: " + client.error().message);
  return std::move(*client);
}

void HttpDaemonTest::deploy_python(const std::string& name, const std::string& source,
                                   const std::function<void(api::FunctionSpec&)>& adjust) {
  api::FunctionSpec spec;
  spec.set_name(name);
  spec.set_runtime(api::PYTHON3);
  spec.set_handler("handler.handler");
  spec.set_code(source);
  spec.set_code_format(api::SINGLE_FILE);
  spec.set_code_file_name("handler.py");
  if (adjust) adjust(spec);
  auto deployed = connect()->deploy(spec);
  if (!deployed) throw std::runtime_error("deploy " + name + ": " + deployed.error().message);
}

int HttpDaemonTest::connect_tcp() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port_));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

HttpReply HttpDaemonTest::read_reply(int fd) {
  HttpReply reply;
  std::string data;
  size_t header_end = std::string::npos;
  size_t wanted = std::string::npos;
  char buffer[65536];
  while (true) {
    if (header_end == std::string::npos) {
      header_end = data.find("\r\n\r\n");
      if (header_end != std::string::npos) {
        std::string head = data.substr(0, header_end);
        size_t line_end = head.find("\r\n");
        const std::string status_line = head.substr(0, line_end);
        if (status_line.size() >= 12) reply.status = std::stoi(status_line.substr(9, 3));
        while (line_end != std::string::npos) {
          const size_t next = head.find("\r\n", line_end + 2);
          const std::string line = head.substr(line_end + 2, next - line_end - 2);
          const size_t colon = line.find(':');
          if (colon != std::string::npos) {
            std::string name = line.substr(0, colon);
            for (char& c : name) c = static_cast<char>(tolower(c));
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            reply.headers.emplace(name, value);
          }
          line_end = next;
        }
        const std::string length = reply.header("content-length");
        if (!length.empty()) wanted = header_end + 4 + std::stoul(length);
      }
    }
    if (wanted != std::string::npos && data.size() >= wanted) break;
    pollfd readable{fd, POLLIN, 0};
    if (poll(&readable, 1, 120000) <= 0) break;
    // Never past this answer: the next one on the connection (keep-alive)
    // is left for the next read_reply(). The header is read a byte at a
    // time, the body exactly.
    size_t want = 1;
    if (wanted != std::string::npos) {
      want = std::min(sizeof buffer, wanted - data.size());
    } else if (header_end != std::string::npos) {
      want = sizeof buffer;  // no Content-Length: until the close
    }
    const ssize_t n = read(fd, buffer, want);
    if (n <= 0) break;
    data.append(buffer, static_cast<size_t>(n));
  }
  if (header_end != std::string::npos)
    reply.body = data.substr(header_end + 4, wanted == std::string::npos ? std::string::npos
                                                                         : wanted - header_end - 4);
  return reply;
}

HttpReply HttpDaemonTest::exchange(const std::string& raw) {
  const int fd = connect_tcp();
  if (fd < 0) return {};
  size_t sent = 0;
  while (sent < raw.size()) {
    const ssize_t n = send(fd, raw.data() + sent, raw.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<size_t>(n);
  }
  HttpReply reply = read_reply(fd);
  close(fd);
  return reply;
}

HttpReply HttpDaemonTest::request(const std::string& method, const std::string& target,
                                  const std::string& body,
                                  const std::vector<std::string>& headers) {
  std::string raw = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  for (const auto& header : headers) raw += header + "\r\n";
  raw += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  return exchange(raw);
}

CommandOutput HttpDaemonTest::run(const std::vector<std::string>& argv) {
  int out[2];
  if (pipe2(out, O_CLOEXEC) != 0) return {};
  const pid_t pid = fork();
  if (pid == 0) {
    dup2(out[1], STDOUT_FILENO);
    dup2(out[1], STDERR_FILENO);
    // Dummy credentials that match the daemon's config; no config files,
    // no metadata service, no network.
    setenv("AWS_ACCESS_KEY_ID", access_key_.c_str(), 1);
    setenv("AWS_SECRET_ACCESS_KEY", secret_key_.c_str(), 1);
    setenv("AWS_DEFAULT_REGION", "us-east-1", 1);
    setenv("AWS_REGION", "us-east-1", 1);
    setenv("AWS_CONFIG_FILE", "/dev/null", 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_PAGER", "", 1);
    setenv("SPROUT_ENDPOINT", endpoint_url().c_str(), 1);
    unsetenv("AWS_PROFILE");
    std::vector<std::string> args = argv;
    std::vector<char*> raw;
    for (auto& arg : args) raw.push_back(arg.data());
    raw.push_back(nullptr);
    execv(raw[0], raw.data());
    _exit(127);
  }
  close(out[1]);
  CommandOutput result;
  char buffer[65536];
  ssize_t n;
  while ((n = read(out[0], buffer, sizeof buffer)) > 0) result.output.append(buffer, n);
  close(out[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return result;
}

}  // namespace sprout::testing
