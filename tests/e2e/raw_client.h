// A client that speaks sproutd's framing by hand, for tests that must send
// what the client library never would: half a frame, garbage, nothing at
// all, or calls it never reads the answers of.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/proto/sprout_api.pb.h"

namespace sprout::testing {

class RawConnection {
 public:
  // Connects at once; connected() says whether it worked.
  explicit RawConnection(const std::string& socket_path);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool connected() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  void close();

  bool send_bytes(std::string_view bytes);
  // A 4-byte big-endian length, then `body`.
  bool send_frame(std::string_view body);
  bool send_request(const api::Request& request);
  // The next answer; nothing on end of stream, a malformed answer, or when
  // none arrives within `timeout_ms` (a deadline against hangs, not a
  // measure: tests give it slack).
  std::optional<api::Response> read_response(int timeout_ms = 30000);
  // True once sproutd closed the connection (end of stream) within
  // `timeout_ms`; answers arriving meanwhile are read and dropped.
  bool wait_closed(int timeout_ms = 30000);

 private:
  bool read_exactly(char* data, size_t size, int timeout_ms);
  int fd_ = -1;
};

}  // namespace sprout::testing
