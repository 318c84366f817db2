// Worker threads for blocking work (invocations wait for their sandbox;
// queued ones wait for a slot). Grows on demand up to `max_threads`; idle
// threads beyond `min_threads` exit after a while. Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sprout::supervisor {

class ThreadPool {
 public:
  ThreadPool(size_t min_threads, size_t max_threads);
  ~ThreadPool();  // runs what is queued, then joins

  void post(std::function<void()> task);
  size_t threads();

 private:
  void work();

  const size_t min_threads_, max_threads_;
  std::mutex mutex_;
  std::condition_variable available_;
  std::deque<std::function<void()>> tasks_;
  size_t threads_ = 0, idle_ = 0;
  bool stopping_ = false;
  std::condition_variable all_exited_;
};

// One long-lived thread that runs what must be started from a thread that
// outlives it: zygotes are forked here, because PR_SET_PDEATHSIG (which ties
// every zygote, snapshot and sandbox to sproutd's life) fires when the
// *thread* that forked them exits.
class LauncherThread {
 public:
  LauncherThread();
  ~LauncherThread();
  // Runs `task` on the launcher thread and waits for it.
  void run(const std::function<void()>& task);

 private:
  std::mutex run_mutex_;  // one caller at a time
  std::mutex mutex_;
  std::condition_variable changed_;
  const std::function<void()>* task_ = nullptr;
  bool done_ = false, stopping_ = false;
  std::thread thread_;
};

}  // namespace sprout::supervisor
