// Results of InvokeAsync calls, kept for GetResult. Bounded: beyond `kept`
// entries the oldest finished ones are forgotten first (an unfinished one is
// never dropped). A GetResult that waits holds no thread: its answer is a
// callback run by the thread that finishes the invocation. Thread-safe.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/proto/sprout_api.pb.h"

namespace sprout::supervisor {

class AsyncResults {
  struct Entry;

 public:
  // One invocation under way; copyable, so that the task running it can
  // carry it.
  class Pending {
   public:
    const std::string& id() const { return id_; }
    void finish(api::InvokeResponse response) const;

   private:
    friend class AsyncResults;
    Pending(std::string id, std::shared_ptr<Entry> entry)
        : id_(std::move(id)), entry_(std::move(entry)) {}
    std::string id_;
    std::shared_ptr<Entry> entry_;
  };

  explicit AsyncResults(size_t kept) : kept_(kept) {}

  // Registers a new invocation under a random id.
  Pending start();
  using Answer = std::function<void(api::GetResultResponse)>;
  // A wait under way; withdraw() takes it back (its answer is then never
  // called). Copyable; withdrawing twice, or after the answer, does nothing.
  class Wait {
   public:
    Wait() = default;
    void withdraw() const;

   private:
    friend class AsyncResults;
    Wait(AsyncResults* results, std::shared_ptr<Entry> entry, uint64_t id)
        : results_(results), entry_(std::move(entry)), id_(id) {}
    AsyncResults* results_ = nullptr;
    std::shared_ptr<Entry> entry_;
    uint64_t id_ = 0;
  };

  // Answers with what is known of `id`: at once, or, if `wait` and it has
  // not finished, when it finishes (then `*wait_handle` is set). False when
  // the id is unknown (never given, or forgotten): `answer` is not called.
  bool get(const std::string& id, bool wait, Answer answer, Wait* wait_handle);

  // GetResult calls waiting now, all ids together.
  uint32_t waiting() const { return waiting_.load(); }

 private:
  const size_t kept_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::deque<std::string> order_;  // ids, oldest first
  std::atomic<uint32_t> waiting_{0};
};

}  // namespace sprout::supervisor
