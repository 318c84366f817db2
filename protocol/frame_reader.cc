#include "protocol/frame_reader.h"

#include <algorithm>
#include <cstring>

namespace sprout {

std::string FrameTooLarge::describe() const {
  return "frame of " + std::to_string(announced_bytes) + " bytes over the limit of " +
         std::to_string(limit_bytes);
}

FrameReader::FrameReader(size_t max_body_bytes) : max_body_bytes_(max_body_bytes) {}

void FrameReader::feed(std::string_view bytes) {
  while (!bytes.empty() && !refused_) {
    if (header_bytes_ < kFrameHeaderBytes) {
      const size_t taken = std::min(kFrameHeaderBytes - header_bytes_, bytes.size());
      memcpy(header_ + header_bytes_, bytes.data(), taken);
      header_bytes_ += taken;
      bytes.remove_prefix(taken);
      if (header_bytes_ < kFrameHeaderBytes) return;
      body_length_ = decode_frame_length(header_);
      if (body_length_ > max_body_bytes_) {
        refused_ = FrameTooLarge{body_length_, max_body_bytes_};
        return;
      }
      // A zero-length frame is complete with its header.
      if (body_length_ == 0) {
        complete_frame();
        continue;
      }
    }
    const size_t taken = std::min(body_length_ - body_.size(), bytes.size());
    body_.append(bytes.data(), taken);
    bytes.remove_prefix(taken);
    if (body_.size() == body_length_) complete_frame();
  }
}

void FrameReader::complete_frame() {
  complete_.push_back(std::move(body_));
  body_.clear();
  header_bytes_ = 0;
  body_length_ = 0;
}

std::optional<std::string> FrameReader::next_frame() {
  if (complete_.empty()) return std::nullopt;
  std::string body = std::move(complete_.front());
  complete_.pop_front();
  return body;
}

size_t FrameReader::partial_bytes() const { return header_bytes_ + body_.size(); }

size_t FrameReader::bytes_to_frame_end() const {
  if (refused_) return 0;
  if (header_bytes_ < kFrameHeaderBytes) return kFrameHeaderBytes - header_bytes_;
  return body_length_ - body_.size();
}

}  // namespace sprout
