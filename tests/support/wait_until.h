// Waiting for a condition in tests: polls until it holds or the deadline
// passes. The deadline only stops a hang; tests give it slack and never
// assert that something happened within a time.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

namespace sprout::testing {

inline bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                       std::chrono::milliseconds every = std::chrono::milliseconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(every);
  }
}

}  // namespace sprout::testing
