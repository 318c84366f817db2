#include "sprout/client.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>

#include "protocol/frame.h"
#include "protocol/frame_reader.h"

namespace sprout {
namespace {

// A call's specific answer, or the server's refusal as a ClientError.
template <typename T, typename Getter>
ClientResult<T> unwrap(ClientResult<api::Response> response, Getter get) {
  if (!response) return std::unexpected(response.error());
  if (response->status() != api::OK)
    return std::unexpected(ClientError{response->status(), response->error()});
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
    return std::unexpected(
        ClientError{api::INVALID_ARGUMENT, "socket path too long: " + socket_path});
  }
  memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return std::unexpected(ClientError{api::INTERNAL, std::string("socket: ") + strerror(errno)});
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    int err = errno;
    ::close(fd);
    if (err == ENOENT || err == ECONNREFUSED) {
      return std::unexpected(
          ClientError{api::UNAVAILABLE, "sproutd is not running at " + socket_path});
    }
    if (err == EACCES) {
      return std::unexpected(
          ClientError{api::UNAVAILABLE, "no permission to use sproutd's socket " + socket_path});
    }
    return std::unexpected(ClientError{
        api::UNAVAILABLE, "cannot reach sproutd at " + socket_path + ": " + strerror(err)});
  }
  return std::unique_ptr<Client>(new Client(fd, socket_path));
}

Client::Client(int fd, std::string path)
    : fd_(fd),
      path_(std::move(path)),
      frames_(std::make_unique<FrameReader>(limits::kMaxApiResponseFrameBytes)) {}

Client::~Client() {
  ::shutdown(fd_, SHUT_RDWR);
  ::close(fd_);
}

ClientResult<api::Response> Client::read_one() {
  for (;;) {
    if (std::optional<std::string> body = frames_->next_frame()) {
      api::Response response;
      if (!response.ParseFromString(*body))
        return std::unexpected(ClientError{api::INTERNAL, "sproutd sent a malformed frame"});
      return response;
    }
    if (const auto& refused = frames_->refused()) {
      return std::unexpected(ClientError{
          api::INTERNAL,
          "sproutd sent a frame of " + std::to_string(refused->announced_bytes) + " bytes"});
    }
    // Whatever has arrived: the rest of this answer, and perhaps the next
    // ones, which the reader keeps for the next call.
    char buffer[64 * 1024];
    ssize_t n = ::read(fd_, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      return std::unexpected(
          ClientError{api::UNAVAILABLE, "connection to sproutd at " + path_ + " closed"});
    }
    frames_->feed({buffer, static_cast<size_t>(n)});
  }
}

ClientResult<api::Response> Client::wait_for(uint64_t id) {
  std::unique_lock lock(state_mutex_);
  for (;;) {
    auto it = pending_.find(id);
    if (it->second) {
      auto result = std::move(*it->second);
      pending_.erase(it);
      return result;
    }
    if (broken_) {
      pending_.erase(it);
      return std::unexpected(*broken_);
    }
    if (reading_) {
      changed_.wait(lock);  // another caller is reading; it hands us our answer
      continue;
    }
    reading_ = true;
    lock.unlock();
    auto response = read_one();
    lock.lock();
    reading_ = false;
    if (!response) {
      broken_ = response.error();
    } else if (response->id() == 0) {
      // A refusal sproutd could not tie to a request (a frame over its
      // limit, a peer it does not admit); it closes the connection next, and
      // every call on it fails with this reason.
      broken_ = ClientError{response->status(), response->error()};
    } else if (auto slot = pending_.find(response->id()); slot != pending_.end() && !slot->second) {
      slot->second = std::move(*response);
    }
    changed_.notify_all();
  }
}

std::future<ClientResult<api::Response>> Client::call_async(api::Request request) {
  const uint64_t id = next_id_++;
  request.set_id(id);
  auto failed = [](ClientError error) {
    std::promise<ClientResult<api::Response>> promise;
    promise.set_value(std::unexpected(std::move(error)));
    return promise.get_future();
  };
  // Refused before it is serialized: nothing is written for it.
  const size_t body_size = request.ByteSizeLong();
  if (body_size > max_frame_) {
    return failed({api::PAYLOAD_TOO_LARGE, "request of " + std::to_string(body_size) +
                                               " bytes over the limit of " +
                                               std::to_string(max_frame_)});
  }
  Result<std::string> frame = encode_frame(request);
  if (!frame) return failed({api::PAYLOAD_TOO_LARGE, frame.error().message()});
  {
    std::lock_guard lock(state_mutex_);
    if (broken_) return failed(*broken_);
    pending_.emplace(id, std::nullopt);
  }
  Result<void> sent;
  {
    std::lock_guard lock(write_mutex_);
    sent = write_all(fd_, frame->data(), frame->size());
  }
  if (!sent) {
    std::lock_guard lock(state_mutex_);
    pending_.erase(id);
    return failed({api::UNAVAILABLE,
                   "cannot send to sproutd at " + path_ + ": " + strerror(sent.error().err)});
  }
  return std::async(std::launch::deferred, [this, id] { return wait_for(id); });
}

ClientResult<api::Response> Client::call(api::Request request) {
  return call_async(std::move(request)).get();
}

ClientResult<api::DeployResponse> Client::deploy(const api::FunctionSpec& spec) {
  api::Request request;
  *request.mutable_deploy()->mutable_spec() = spec;
  return unwrap<api::DeployResponse>(call(std::move(request)),
                                     [](const api::Response& r) { return r.deploy(); });
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

std::future<ClientResult<api::InvokeResponse>> Client::invoke_async(const std::string& function,
                                                                    std::string payload,
                                                                    uint32_t timeout_ms) {
  auto response = std::make_shared<std::future<ClientResult<api::Response>>>(
      call_async(invoke_request(function, std::move(payload), timeout_ms)));
  return std::async(std::launch::deferred, [response] { return invoke_result(response->get()); });
}

ClientResult<std::string> Client::submit(const std::string& function, std::string payload,
                                         uint32_t timeout_ms) {
  api::Request request = invoke_request(function, std::move(payload), timeout_ms);
  // Moved out first: the call is a oneof, and setting invoke_async clears
  // invoke (copying from it in place would send an empty request).
  api::InvokeRequest invoke = std::move(*request.mutable_invoke());
  *request.mutable_invoke_async() = std::move(invoke);
  return unwrap<std::string>(call(std::move(request)), [](const api::Response& r) {
    return r.invoke_async().invocation_id();
  });
}

ClientResult<api::GetResultResponse> Client::get_result(const std::string& invocation_id,
                                                        bool wait) {
  api::Request request;
  request.mutable_get_result()->set_invocation_id(invocation_id);
  request.mutable_get_result()->set_wait(wait);
  return unwrap<api::GetResultResponse>(call(std::move(request)),
                                        [](const api::Response& r) { return r.get_result(); });
}

ClientResult<api::ListResponse> Client::list() {
  api::Request request;
  request.mutable_list();
  return unwrap<api::ListResponse>(call(std::move(request)),
                                   [](const api::Response& r) { return r.list(); });
}

ClientResult<api::GetResponse> Client::get(const std::string& name) {
  api::Request request;
  request.mutable_get()->set_name(name);
  return unwrap<api::GetResponse>(call(std::move(request)),
                                  [](const api::Response& r) { return r.get(); });
}

ClientResult<api::DeleteResponse> Client::remove(const std::string& name) {
  api::Request request;
  request.mutable_delete_()->set_name(name);
  return unwrap<api::DeleteResponse>(call(std::move(request)),
                                     [](const api::Response& r) { return r.delete_(); });
}

ClientResult<api::StatsResponse> Client::stats(const std::string& name) {
  api::Request request;
  request.mutable_stats()->set_name(name);
  return unwrap<api::StatsResponse>(call(std::move(request)),
                                    [](const api::Response& r) { return r.stats(); });
}

ClientResult<api::HealthResponse> Client::health() {
  api::Request request;
  request.mutable_health();
  return unwrap<api::HealthResponse>(call(std::move(request)),
                                     [](const api::Response& r) { return r.health(); });
}

}  // namespace sprout
