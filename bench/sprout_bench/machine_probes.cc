#include "bench/sprout_bench/machine_probes.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <vector>

namespace sprout::bench {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kPageBytes = 4096;
constexpr size_t kProbePages = 4096;  // 16 MiB per trial
constexpr int kFaultTrials = 5;
constexpr int kForkTrials = 30;

uint64_t elapsed_ns(Clock::time_point start) {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
}

uint64_t median_of(std::vector<uint64_t> values) {
  if (values.empty()) return 0;
  std::nth_element(values.begin(), values.begin() + values.size() / 2, values.end());
  return values[values.size() / 2];
}

void touch_pages(char* memory, size_t pages) {
  for (size_t i = 0; i < pages; ++i) memory[i * kPageBytes] = static_cast<char>(i);
}

// Nanoseconds per first write to a fresh page.
uint64_t zero_fill_fault_ns() {
  std::vector<uint64_t> trials;
  for (int t = 0; t < kFaultTrials; ++t) {
    void* mapped = mmap(nullptr, kProbePages * kPageBytes, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapped == MAP_FAILED) continue;
    auto start = Clock::now();
    touch_pages(static_cast<char*>(mapped), kProbePages);
    trials.push_back(elapsed_ns(start) / kProbePages);
    munmap(mapped, kProbePages * kPageBytes);
  }
  return median_of(trials);
}

// Nanoseconds per write to a page shared copy-on-write with the parent:
// measured in the child, sent back through a pipe.
uint64_t copy_on_write_fault_ns() {
  void* mapped = mmap(nullptr, kProbePages * kPageBytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapped == MAP_FAILED) return 0;
  char* memory = static_cast<char*>(mapped);
  touch_pages(memory, kProbePages);
  std::vector<uint64_t> trials;
  for (int t = 0; t < kFaultTrials; ++t) {
    int channel[2];
    if (pipe2(channel, O_CLOEXEC) != 0) break;
    pid_t child = fork();
    if (child == 0) {
      auto start = Clock::now();
      touch_pages(memory, kProbePages);
      uint64_t per_page = elapsed_ns(start) / kProbePages;
      _exit(write(channel[1], &per_page, sizeof per_page) == sizeof per_page ? 0 : 1);
    }
    close(channel[1]);
    uint64_t per_page = 0;
    if (child > 0 && read(channel[0], &per_page, sizeof per_page) == sizeof per_page)
      trials.push_back(per_page);
    close(channel[0]);
    if (child > 0) waitpid(child, nullptr, 0);
  }
  munmap(mapped, kProbePages * kPageBytes);
  return median_of(trials);
}

// Nanoseconds from clone to the parent's waitpid return, for a child that
// exits at once; `flags` adds namespaces. Sets `error` (errno) when the
// kernel refuses.
uint64_t clone_exit_ns(unsigned long flags, int* error) {
  std::vector<uint64_t> trials;
  for (int t = 0; t < kForkTrials; ++t) {
    auto start = Clock::now();
    long child = syscall(SYS_clone, flags | SIGCHLD, nullptr, nullptr, nullptr, 0);
    if (child == 0) _exit(0);
    if (child < 0) {
      *error = errno;
      return 0;
    }
    waitpid(static_cast<pid_t>(child), nullptr, 0);
    trials.push_back(elapsed_ns(start));
  }
  return median_of(trials);
}

std::string microseconds(uint64_t ns) {
  char text[32];
  snprintf(text, sizeof text, "%.2f us", static_cast<double>(ns) / 1000.0);
  return text;
}

}  // namespace

MachineProbes probe_machine() {
  MachineProbes probes;
  probes.page_fault_ns = zero_fill_fault_ns();
  probes.cow_fault_ns = copy_on_write_fault_ns();
  int error = 0;
  probes.fork_exit_ns = clone_exit_ns(0, &error);
  error = 0;
  uint64_t netns = clone_exit_ns(CLONE_NEWNET, &error);
  if (error == 0)
    probes.clone_netns_exit_ns = netns;
  else
    probes.clone_netns_unavailable = strerror(error);
  return probes;
}

std::string describe(const MachineProbes& probes) {
  return "page fault (first write) " + microseconds(probes.page_fault_ns) +
         ", copy-on-write fault " + microseconds(probes.cow_fault_ns) + ", fork+exit " +
         microseconds(probes.fork_exit_ns) + ", clone(CLONE_NEWNET)+exit " +
         (probes.clone_netns_exit_ns ? microseconds(*probes.clone_netns_exit_ns)
                                     : "not permitted here (" + probes.clone_netns_unavailable + ")");
}

void write_probes_csv(const std::string& path, const MachineProbes& probes) {
  std::ofstream out(path, std::ios::trunc);
  out << "probe,median_ns\n";
  out << "page_fault," << probes.page_fault_ns << '\n';
  out << "cow_fault," << probes.cow_fault_ns << '\n';
  out << "fork_exit," << probes.fork_exit_ns << '\n';
  if (probes.clone_netns_exit_ns) out << "clone_netns_exit," << *probes.clone_netns_exit_ns << '\n';
}

}  // namespace sprout::bench
