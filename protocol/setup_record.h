// The setup record: the first bytes a sandbox forked by a function snapshot
// sends on its invocation channel (a stream socket), before any frame. Raw
// bytes, not protobuf, because the child writes them between clone and user
// code (async-signal-safe, no allocation):
//   'R'                          ready, no seccomp listener
//   'L' + SCM_RIGHTS             ready, with the seccomp listener attached
//   'F' <u16 length, host order> <text>   setup failed: "mount tmpfs on /tmp: EPERM"
// A pre-forked sandbox then sends one more byte, 'W', once its runtime has
// warmed up (agent/sandbox_entry.h), before sproutd sends its request.
// sproutd's side reads it incrementally from a non-blocking socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace sprout::setup_record {

inline constexpr char kReady = 'R';
inline constexpr char kReadyWithListener = 'L';
inline constexpr char kFailed = 'F';
inline constexpr char kWarm = 'W';
// Longest failure text; longer texts are cut.
inline constexpr size_t kMaxFailureText = 500;
inline constexpr size_t kMaxRecordBytes = 3 + kMaxFailureText;

// Child side, async-signal-safe: builds a failure record from the parts
// (joined without separators) into `buffer` (kMaxRecordBytes long); returns
// its size.
size_t encode_failure(char* buffer, const char* const* parts, size_t part_count);

// Parent side: what the first bytes of a channel say.
struct Parsed {
  enum class State { kIncomplete, kReady, kReadyWithListener, kFailed, kMalformed };
  State state = State::kIncomplete;
  size_t consumed = 0;  // bytes of the record, to drop before the frames
  std::string failure;  // kFailed: the failed step
};
Parsed parse(const char* data, size_t size);

}  // namespace sprout::setup_record
