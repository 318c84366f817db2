#include "protocol/setup_record.h"

#include <cstring>

namespace sprout::setup_record {

size_t encode_failure(char* buffer, const char* const* parts, size_t part_count) {
  size_t length = 0;
  for (size_t i = 0; i < part_count; ++i) {
    for (const char* text = parts[i]; text && *text && length < kMaxFailureText; ++text)
      buffer[3 + length++] = *text;
  }
  buffer[0] = kFailed;
  const uint16_t size = static_cast<uint16_t>(length);
  memcpy(buffer + 1, &size, 2);
  return 3 + length;
}

Parsed parse(const char* data, size_t size) {
  Parsed parsed;
  if (size == 0) return parsed;
  switch (data[0]) {
    case kReady:
      parsed.state = Parsed::State::kReady;
      parsed.consumed = 1;
      return parsed;
    case kReadyWithListener:
      parsed.state = Parsed::State::kReadyWithListener;
      parsed.consumed = 1;
      return parsed;
    case kFailed: {
      if (size < 3) return parsed;
      uint16_t length;
      memcpy(&length, data + 1, 2);
      if (length > kMaxFailureText) {
        parsed.state = Parsed::State::kMalformed;
        return parsed;
      }
      if (size < 3u + length) return parsed;
      parsed.state = Parsed::State::kFailed;
      parsed.failure.assign(data + 3, length);
      parsed.consumed = 3u + length;
      return parsed;
    }
    default:
      parsed.state = Parsed::State::kMalformed;
      return parsed;
  }
}

}  // namespace sprout::setup_record
