// The bounded tail of an invocation's output: keeps the last `limit` bytes
// and says how much was dropped before them. Not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sprout {

class LogTail {
 public:
  explicit LogTail(size_t limit) : limit_(limit) {}
  void append(std::string_view data);
  bool truncated() const { return dropped_ > 0; }
  // The tail, led by "[sprout: N bytes of earlier output dropped]\n" when cut.
  std::string text() const;

 private:
  size_t limit_;
  size_t dropped_ = 0;
  std::string buffer_;
};

}  // namespace sprout
