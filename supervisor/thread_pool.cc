#include "supervisor/thread_pool.h"

#include <chrono>

namespace sprout::supervisor {

ThreadPool::ThreadPool(size_t min_threads, size_t max_threads)
    : min_threads_(min_threads), max_threads_(max_threads) {}

ThreadPool::~ThreadPool() {
  std::unique_lock lock(mutex_);
  stopping_ = true;
  available_.notify_all();
  all_exited_.wait(lock, [this] { return threads_ == 0; });
}

void ThreadPool::post(std::function<void()> task) {
  std::lock_guard lock(mutex_);
  tasks_.push_back(std::move(task));
  if (idle_ < tasks_.size() && threads_ < max_threads_) {
    ++threads_;
    std::thread([this] { work(); }).detach();
  } else {
    available_.notify_one();
  }
}

size_t ThreadPool::threads() {
  std::lock_guard lock(mutex_);
  return threads_;
}

void ThreadPool::work() {
  std::unique_lock lock(mutex_);
  for (;;) {
    if (tasks_.empty()) {
      if (stopping_) break;
      ++idle_;
      bool woke = available_.wait_for(lock, std::chrono::seconds(30),
                                      [this] { return stopping_ || !tasks_.empty(); });
      --idle_;
      if (!woke && threads_ > min_threads_) break;
      continue;
    }
    auto task = std::move(tasks_.front());
    tasks_.pop_front();
    lock.unlock();
    task();
    lock.lock();
  }
  --threads_;
  all_exited_.notify_all();
}

LauncherThread::LauncherThread() {
  thread_ = std::thread([this] {
    std::unique_lock lock(mutex_);
    for (;;) {
      changed_.wait(lock, [this] { return stopping_ || task_; });
      if (stopping_) return;
      (*task_)();
      task_ = nullptr;
      done_ = true;
      changed_.notify_all();
    }
  });
}

LauncherThread::~LauncherThread() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
}

void LauncherThread::run(const std::function<void()>& task) {
  std::lock_guard caller(run_mutex_);
  std::unique_lock lock(mutex_);
  task_ = &task;
  done_ = false;
  changed_.notify_all();
  changed_.wait(lock, [this] { return done_; });
}

}  // namespace sprout::supervisor
