// sprout's C++ client library: talks to sproutd over its Unix socket.
//
//   auto client = sprout::Client::connect();             // $SPROUT_SOCKET or
//   /run/sprout/sprout.sock auto reply = (*client)->invoke("hello", R"({"name": "you"})"); if
//   (reply && reply->status() == sprout::api::OK) use(reply->result());
//
// One connection carries many calls at once: invoke_async() returns a future
// and pipelines the request; answers are matched by request id, in whatever
// order they arrive. Answers are read by whichever caller is waiting for one
// (one reader at a time), not by a thread of the library's: one thread
// wake-up less per call. Thread-safe: any thread may call any method; a
// future must be waited for before its Client is destroyed.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/proto/sprout_api.pb.h"
#include "protocol/limits.h"

namespace sprout {

class FrameReader;

// A call that did not produce the answer asked for: a transport failure
// (status UNAVAILABLE, "sproutd is not running at ...") or a server-side
// refusal (NOT_FOUND, INVALID_ARGUMENT, THROTTLED, ...).
struct ClientError {
  api::Status status = api::INTERNAL;
  std::string message;
};

template <typename T>
using ClientResult = std::expected<T, ClientError>;

// $SPROUT_SOCKET, else /run/sprout/sprout.sock.
std::string default_socket_path();

// Largest frame the client sends; larger requests fail locally with
// PAYLOAD_TOO_LARGE before anything is written.
inline constexpr size_t kDefaultClientMaxFrame = limits::kMaxApiFrameBytes;

class Client {
 public:
  static ClientResult<std::unique_ptr<Client>> connect(
      const std::string& socket_path = default_socket_path());
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Deploy answers INIT_ERROR as a ClientError whose message carries the
  // init's error; use call() to see the whole DeployResponse.
  ClientResult<api::DeployResponse> deploy(const api::FunctionSpec& spec);
  // Any invocation status comes back as an InvokeResponse (check status());
  // ClientError only when the call itself failed (not found, throttled, ...).
  ClientResult<api::InvokeResponse> invoke(const std::string& function, std::string payload,
                                           uint32_t timeout_ms = 0);
  std::future<ClientResult<api::InvokeResponse>> invoke_async(const std::string& function,
                                                              std::string payload,
                                                              uint32_t timeout_ms = 0);
  // Server-side asynchronous invocation: returns an id for get_result().
  ClientResult<std::string> submit(const std::string& function, std::string payload,
                                   uint32_t timeout_ms = 0);
  ClientResult<api::GetResultResponse> get_result(const std::string& invocation_id, bool wait);
  ClientResult<api::ListResponse> list();
  ClientResult<api::GetResponse> get(const std::string& name);
  ClientResult<api::DeleteResponse> remove(const std::string& name);
  ClientResult<api::StatsResponse> stats(const std::string& name = "");
  ClientResult<api::HealthResponse> health();

  // The raw exchange: sets the request id, sends, waits for the answer.
  ClientResult<api::Response> call(api::Request request);
  std::future<ClientResult<api::Response>> call_async(api::Request request);

  void set_max_frame(size_t bytes) { max_frame_ = bytes; }

 private:
  Client(int fd, std::string path);
  ClientResult<api::Response> wait_for(uint64_t id);
  // One frame from sproutd; blocking, called without the state lock, by one
  // caller at a time (`reading_`).
  ClientResult<api::Response> read_one();

  int fd_;
  std::string path_;
  size_t max_frame_ = kDefaultClientMaxFrame;
  std::mutex write_mutex_;
  std::mutex state_mutex_;  // guards pending_, reading_, broken_
  std::condition_variable changed_;
  // One slot per request sent, filled when its answer has been read.
  std::map<uint64_t, std::optional<ClientResult<api::Response>>> pending_;
  bool reading_ = false;
  std::optional<ClientError> broken_;
  // Answers read but not yet taken; used only by the caller that reads.
  std::unique_ptr<FrameReader> frames_;
  std::atomic<uint64_t> next_id_{1};
};

// A tar stream (ustar) of a directory's regular files and subdirectories,
// for FunctionSpec.code with CodeFormat TAR.
ClientResult<std::string> pack_directory(const std::string& directory);

}  // namespace sprout
