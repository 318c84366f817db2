// Child side: async-signal-safe (raw system calls, fixed-size arrays).
#include "sandbox/descriptors.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sprout {
namespace {

bool is_target(const DescriptorMove* moves, const bool* moved, size_t count, int fd) {
  for (size_t i = 0; i < count; ++i) {
    if (moved[i] && moves[i].to == fd) return true;
  }
  return false;
}

// close_range(2) of [first, last]; nothing when the range is empty.
int close_between(unsigned first, unsigned last) {
  if (first > last) return 0;
  return static_cast<int>(syscall(SYS_close_range, first, last, 0));
}

}  // namespace

int arrange_descriptors(const DescriptorMove* moves, size_t count, int* keep) {
  if (count > kMaxDescriptorMoves) {
    errno = EMFILE;
    return -1;
  }
  int highest_target = 2;
  for (size_t i = 0; i < count; ++i) {
    if (moves[i].to < 0 || moves[i].from < 0) {
      errno = EBADF;
      return -1;
    }
    if (moves[i].to > highest_target) highest_target = moves[i].to;
  }
  const int above = highest_target + 1;
  // Which sources are there, decided before any new descriptor exists: a
  // missing optional source's number could otherwise be taken by the kept
  // channel or a temporary below, and be moved in its place.
  bool moved[kMaxDescriptorMoves];
  for (size_t i = 0; i < count; ++i) {
    moved[i] = !moves[i].if_open || fcntl(moves[i].from, F_GETFD) >= 0;
  }
  int kept = -1;
  if (keep && *keep >= 0) {
    kept = fcntl(*keep, F_DUPFD_CLOEXEC, above + static_cast<int>(count));
    if (kept < 0) return -1;
    *keep = kept;  // the old number may be some move's target
  }
  int temporaries[kMaxDescriptorMoves];
  const int temporary_floor = (kept >= 0 ? kept : above) + 1;
  for (size_t i = 0; i < count; ++i) {
    if (!moved[i]) continue;
    temporaries[i] = fcntl(moves[i].from, F_DUPFD_CLOEXEC, temporary_floor);
    if (temporaries[i] < 0) return -1;
  }
  for (size_t i = 0; i < count; ++i) {
    if (!moved[i]) continue;
    if (dup3(temporaries[i], moves[i].to, moves[i].close_on_exec ? O_CLOEXEC : 0) < 0) return -1;
  }
  // Everything from the highest target up (temporaries included), except
  // the kept channel.
  if (kept >= 0) {
    if (close_between(above, kept - 1U) != 0) return -1;
    if (close_between(kept + 1U, ~0U) != 0) return -1;
  } else if (close_between(above, ~0U) != 0) {
    return -1;
  }
  for (int fd = 0; fd < above; ++fd) {
    if (is_target(moves, moved, count, fd)) continue;
    close(fd);
    if (fd > 2) continue;
    int null_fd = open("/dev/null", O_RDWR);
    if (null_fd < 0) return -1;
    if (null_fd != fd) {
      if (dup3(null_fd, fd, 0) < 0) return -1;
      close(null_fd);
    }
  }
  return 0;
}

}  // namespace sprout
