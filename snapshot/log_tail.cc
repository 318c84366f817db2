#include "snapshot/log_tail.h"

namespace sprout {

void LogTail::append(std::string_view data) {
  buffer_.append(data);
  if (buffer_.size() > limit_) {
    // Trim in bulk, not per write: erase only when twice over the limit.
    size_t excess = buffer_.size() - limit_;
    if (buffer_.size() > 2 * limit_ || data.size() >= limit_) {
      buffer_.erase(0, excess);
      dropped_ += excess;
    }
  }
}

std::string LogTail::text() const {
  std::string_view tail = buffer_;
  size_t dropped = dropped_;
  if (tail.size() > limit_) {
    dropped += tail.size() - limit_;
    tail.remove_prefix(tail.size() - limit_);
  }
  if (dropped == 0) return std::string(tail);
  return "[sprout: " + std::to_string(dropped) + " bytes of earlier output dropped]\n" +
         std::string(tail);
}

}  // namespace sprout
