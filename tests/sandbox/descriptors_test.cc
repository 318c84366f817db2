// The shared descriptor arrangement of every child path
// (sandbox/descriptors.h), run in a forked child: moves through each other,
// onto themselves, skipped when absent, /dev/null for 0-2, everything else
// closed, the kept report channel moved above all and close-on-exec. No root.
#include "sandbox/descriptors.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "base/unique_fd.h"

namespace sprout {
namespace {

// What `fd` is in this process: "closed", "/dev/null", "memfd:name", with
// "+cloexec" when it is close-on-exec.
void describe_fd(int fd, char* out, size_t size) {
  char link[64];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, out, size - 1);
  if (n < 0) {
    snprintf(out, size, "closed");
    return;
  }
  out[n] = '\0';
  if (strncmp(out, "/memfd:", 7) == 0) {  // "/memfd:x (deleted)" -> "memfd:x"
    memmove(out, out + 1, strlen(out));
    if (char* space = strchr(out, ' ')) *space = '\0';
  }
  if (fcntl(fd, F_GETFD) & FD_CLOEXEC) strncat(out, "+cloexec", size - strlen(out) - 1);
}

// Forks; the child sets up its descriptors with `before`, arranges them with
// the report channel kept, then writes on that channel what fds 0..9 are,
// and whether the channel itself ended up above every other open
// descriptor, close-on-exec.
std::string arranged(void (*before)(), const DescriptorMove* moves, size_t count) {
  int channel[2];
  if (pipe2(channel, O_CLOEXEC) != 0) return "pipe failed";
  // Out of the way of the numbers the cases use.
  int high_read = fcntl(channel[0], F_DUPFD_CLOEXEC, 20);
  int high_write = fcntl(channel[1], F_DUPFD_CLOEXEC, 20);
  close(channel[0]);
  close(channel[1]);
  pid_t pid = fork();
  if (pid == 0) {
    close(high_read);
    before();
    int keep = high_write;
    if (arrange_descriptors(moves, count, &keep) != 0) _exit(3);
    char text[1024] = "";
    int highest_other = -1;
    for (int fd = 0; fd < 64; ++fd) {
      if (fd != keep && fcntl(fd, F_GETFD) >= 0) highest_other = fd;
    }
    for (int fd = 0; fd < 10; ++fd) {
      char what[128];
      describe_fd(fd, what, sizeof what);
      if (fd == keep) snprintf(what, sizeof what, "keep");
      char entry[160];
      snprintf(entry, sizeof entry, "%d=%s ", fd, what);
      strncat(text, entry, sizeof text - strlen(text) - 1);
    }
    // The kept channel is above everything else still open, close-on-exec.
    const bool cloexec = (fcntl(keep, F_GETFD) & FD_CLOEXEC) != 0;
    strncat(text, keep > highest_other && cloexec ? "keep:above,cloexec" : "keep:wrong",
            sizeof text - strlen(text) - 1);
    [[maybe_unused]] auto written = write(keep, text, strlen(text));
    _exit(0);
  }
  close(high_write);
  std::string out;
  char buffer[1024];
  ssize_t n;
  while ((n = read(high_read, buffer, sizeof buffer)) > 0) out.append(buffer, n);
  close(high_read);
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    return "child failed with status " + std::to_string(status);
  return out;
}

void put_memfd(const char* name, int fd) {
  int made = memfd_create(name, 0);
  if (made != fd) {
    dup2(made, fd);
    close(made);
  }
}

// 0 closed, 1 "one", 2 "two", 3 and 4 strays, 5 "five", 6 "six", 7 "seven",
// 12 and 30 strays.
void numbered_descriptors() {
  close(0);
  put_memfd("one", 1);
  put_memfd("two", 2);
  put_memfd("stray", 3);
  put_memfd("stray", 4);
  put_memfd("five", 5);
  put_memfd("six", 6);
  put_memfd("seven", 7);
  put_memfd("stray", 12);
  put_memfd("stray", 30);
}

TEST(ArrangeDescriptors, SwapsKeepsInPlaceClosesTheRestAndFillsStdio) {
  const DescriptorMove moves[] = {
      {.from = 5, .to = 6},
      {.from = 6, .to = 5},
      {.from = 7, .to = 7, .close_on_exec = true},
      {.from = 2, .to = 2},
  };
  EXPECT_EQ(arranged(numbered_descriptors, moves, std::size(moves)),
            "0=/dev/null 1=/dev/null 2=memfd:two 3=closed 4=closed 5=memfd:six 6=memfd:five "
            "7=memfd:seven+cloexec 8=closed 9=closed keep:above,cloexec");
}

TEST(ArrangeDescriptors, OneSourceToSeveralTargetsAndAbsentSourcesSkipped) {
  const DescriptorMove moves[] = {
      {.from = 5, .to = 1},
      {.from = 5, .to = 2},
      // 9 is not open; the first temporary will take that number.
      {.from = 9, .to = 0, .if_open = true},
      {.from = 6, .to = 3},
  };
  EXPECT_EQ(arranged(numbered_descriptors, moves, std::size(moves)),
            "0=/dev/null 1=memfd:five 2=memfd:five 3=memfd:six 4=closed 5=closed 6=closed "
            "7=closed 8=keep 9=closed keep:above,cloexec");
}

TEST(ArrangeDescriptors, AnAbsentSourceFailsUnlessOptional) {
  const DescriptorMove moves[] = {{.from = 9, .to = 0}};
  EXPECT_EQ(arranged(numbered_descriptors, moves, std::size(moves)),
            "child failed with status 768");
}

}  // namespace
}  // namespace sprout
