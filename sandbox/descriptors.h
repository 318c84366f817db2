// The one descriptor arrangement of every path between clone (or fork) and
// exec or user code: the sandbox's child, the runtime zygote's exec
// (snapshot/runtime_zygote.cc), the snapshot's own setup
// (agent/snapshot_role.cc) and the exec runtime's child
// (agent/exec_runtime.cc). Child side: async-signal-safe, no allocation, on
// a list of moves prepared before the clone.
#pragma once

#include <cstddef>

namespace sprout {

// `from` (a descriptor of the process as it is) becomes `to`.
struct DescriptorMove {
  int from;
  int to;
  bool close_on_exec = false;
  // A `from` that is not open (EBADF) is skipped instead of failing: `to`
  // is then treated as not mapped.
  bool if_open = false;
};

inline constexpr size_t kMaxDescriptorMoves = 64;

// Gives every `to` a duplicate of its `from`, closes every other descriptor,
// and opens /dev/null on whichever of 0, 1 and 2 no move fills (programs
// assume them open: a closed one would be taken silently by the next
// open()). Two passes through temporaries, so a target that is also another
// move's source is read before it is overwritten.
//
// `*keep`, when not negative, is a descriptor that survives too (a report
// channel): it is moved above every target, close-on-exec, and `*keep` is
// updated as soon as it has moved, so that a caller can still report on it
// when a later step fails. Returns 0, or -1 with errno set.
int arrange_descriptors(const DescriptorMove* moves, size_t count, int* keep);

}  // namespace sprout
