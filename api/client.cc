#include "sprout/client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>

namespace sprout {
namespace {

ClientResult<api::Response> unexpected_error(api::Status status, std::string message) {
  return std::unexpected(ClientError{status, std::move(message)});
}

bool write_all(int fd, const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::send(fd, data, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool read_all(int fd, char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::read(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

// A call's specific answer, or the server's refusal as a ClientError.
template <typename T, typename Getter>
ClientResult<T> unwrap(ClientResult<api::Response> response, Getter get) {
  if (!response) return std::unexpected(response.error());
  if (response->status() != api::OK) return std::unexpected(ClientError{response->status(), response->error()});
  return get(*response);
}

}  // namespace

std::string default_socket_path() {
  const char* env = std::getenv("SPROUT_SOCKET");
  return env && *env ? env : "/run/sprout/sprout.sock";
}

ClientResult<std::unique_ptr<Client>> Client::connect(const std::string& socket_path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof address.sun_path) {
    return std::unexpected(ClientError{api::INVALID_ARGUMENT, "socket path too long: " + socket_path});
  }
  memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::unexpected(ClientError{api::INTERNAL, std::string("socket: ") + strerror(errno)});
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED) {
      return std::unexpected(ClientError{api::UNAVAILABLE, "sproutd is not running at " + socket_path});
    }
    if (err == EACCES) {
      return std::unexpected(ClientError{api::UNAVAILABLE, "no permission to use sproutd's socket " + socket_path});
    }
    return std::unexpected(ClientError{api::UNAVAILABLE, "cannot reach sproutd at " + socket_path + ": " + strerror(err)});
  }
  return std::unique_ptr<Client>(new Client(fd, socket_path));
}

Client::Client(int fd, std::string path) : fd_(fd), path_(std::move(path)) {
  reader_ = std::thread([this] { read_responses(); });
}

Client::~Client() {
  ::shutdown(fd_, SHUT_RDWR);
  reader_.join();
  ::close(fd_);
}

void Client::fail_all(const ClientError& error) {
  std::lock_guard lock(pending_mutex_);
  broken_ = error;
  for (auto& [id, promise] : pending_) promise.set_value(std::unexpected(error));
  pending_.clear();
}

void Client::read_responses() {
  for (;;) {
    uint32_t length_be;
    if (!read_all(fd_, reinterpret_cast<char*>(&length_be), 4)) break;
    size_t length = ntohl(length_be);
    if (length > 64 * 1024 * 1024) break;  // a server never sends this much
    std::string body(length, '\0');
    if (!read_all(fd_, body.data(), length)) break;
    api::Response response;
    if (!response.ParseFromString(body)) break;
    std::lock_guard lock(pending_mutex_);
    auto it = pending_.find(response.id());
    if (it == pending_.end()) {
      // id 0: a refusal the server could not tie to a request (oversized or
      // malformed frame); it closes the connection next.
      continue;
    }
    it->second.set_value(std::move(response));
    pending_.erase(it);
  }
  fail_all(ClientError{api::UNAVAILABLE, "connection to sproutd at " + path_ + " closed"});
}

std::future<ClientResult<api::Response>> Client::call_async(api::Request request) {
  std::promise<ClientResult<api::Response>> promise;
  auto future = promise.get_future();
  const uint64_t id = next_id_++;
  request.set_id(id);
  std::string body;
  request.SerializeToString(&body);
  if (body.size() > max_frame_) {
    promise.set_value(unexpected_error(api::PAYLOAD_TOO_LARGE, "request of " + std::to_string(body.size()) +
                                                                    " bytes over the limit of " +
                                                                    std::to_string(max_frame_)));
    return future;
  }
  {
    std::lock_guard lock(pending_mutex_);
    if (broken_) {
      promise.set_value(std::unexpected(*broken_));
      return future;
    }
    pending_.emplace(id, std::move(promise));
  }
  uint32_t length_be = htonl(static_cast<uint32_t>(body.size()));
  std::string frame(reinterpret_cast<const char*>(&length_be), 4);
  frame += body;
  bool sent;
  {
    std::lock_guard lock(write_mutex_);
    sent = write_all(fd_, frame.data(), frame.size());
  }
  if (!sent) {
    std::lock_guard lock(pending_mutex_);
    auto it = pending_.find(id);
    if (it != pending_.end()) {
      it->second.set_value(unexpected_error(api::UNAVAILABLE, "cannot send to sproutd at " + path_ + ": " + strerror(errno)));
      pending_.erase(it);
    }
  }
  return future;
}

ClientResult<api::Response> Client::call(api::Request request) { return call_async(std::move(request)).get(); }

ClientResult<api::DeployResponse> Client::deploy(const api::FunctionSpec& spec) {
  api::Request request;
  *request.mutable_deploy()->mutable_spec() = spec;
  return unwrap<api::DeployResponse>(call(std::move(request)), [](const api::Response& r) { return r.deploy(); });
}

namespace {

api::Request invoke_request(const std::string& function, std::string payload, uint32_t timeout_ms) {
  api::Request request;
  auto* invoke = request.mutable_invoke();
  invoke->set_function(function);
  invoke->set_payload(std::move(payload));
  invoke->set_timeout_ms(timeout_ms);
  return request;
}

ClientResult<api::InvokeResponse> invoke_result(ClientResult<api::Response> response) {
  if (!response) return std::unexpected(response.error());
  // An invocation's own status travels inside the InvokeResponse.
  if (response->has_invoke()) return response->invoke();
  return std::unexpected(ClientError{response->status(), response->error()});
}

}  // namespace

ClientResult<api::InvokeResponse> Client::invoke(const std::string& function, std::string payload,
                                                 uint32_t timeout_ms) {
  return invoke_result(call(invoke_request(function, std::move(payload), timeout_ms)));
}

std::future<ClientResult<api::InvokeResponse>> Client::invoke_async(const std::string& function, std::string payload,
                                                                    uint32_t timeout_ms) {
  auto response = std::make_shared<std::future<ClientResult<api::Response>>>(
      call_async(invoke_request(function, std::move(payload), timeout_ms)));
  return std::async(std::launch::deferred, [response] { return invoke_result(response->get()); });
}

ClientResult<std::string> Client::submit(const std::string& function, std::string payload, uint32_t timeout_ms) {
  api::Request request = invoke_request(function, std::move(payload), timeout_ms);
  *request.mutable_invoke_async() = request.invoke();
  return unwrap<std::string>(call(std::move(request)),
                             [](const api::Response& r) { return r.invoke_async().invocation_id(); });
}

ClientResult<api::GetResultResponse> Client::get_result(const std::string& invocation_id, bool wait) {
  api::Request request;
  request.mutable_get_result()->set_invocation_id(invocation_id);
  request.mutable_get_result()->set_wait(wait);
  return unwrap<api::GetResultResponse>(call(std::move(request)), [](const api::Response& r) { return r.get_result(); });
}

ClientResult<api::ListResponse> Client::list() {
  api::Request request;
  request.mutable_list();
  return unwrap<api::ListResponse>(call(std::move(request)), [](const api::Response& r) { return r.list(); });
}

ClientResult<api::GetResponse> Client::get(const std::string& name) {
  api::Request request;
  request.mutable_get()->set_name(name);
  return unwrap<api::GetResponse>(call(std::move(request)), [](const api::Response& r) { return r.get(); });
}

ClientResult<api::DeleteResponse> Client::remove(const std::string& name) {
  api::Request request;
  request.mutable_delete_()->set_name(name);
  return unwrap<api::DeleteResponse>(call(std::move(request)), [](const api::Response& r) { return r.delete_(); });
}

ClientResult<api::StatsResponse> Client::stats(const std::string& name) {
  api::Request request;
  request.mutable_stats()->set_name(name);
  return unwrap<api::StatsResponse>(call(std::move(request)), [](const api::Response& r) { return r.stats(); });
}

ClientResult<api::HealthResponse> Client::health() {
  api::Request request;
  request.mutable_health();
  return unwrap<api::HealthResponse>(call(std::move(request)), [](const api::Response& r) { return r.health(); });
}

}  // namespace sprout
