// Results of InvokeAsync calls, kept for GetResult. Bounded: beyond `kept`
// entries the oldest finished ones are forgotten first (an unfinished one is
// never dropped). Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
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
  // What is known of `id`, waiting for it to finish if `wait`; nullopt when
  // the id is unknown (never given, or forgotten).
  std::optional<api::GetResultResponse> get(const std::string& id, bool wait);

 private:
  const size_t kept_;
  std::mutex mutex_;
  std::map<std::string, std::shared_ptr<Entry>> entries_;
  std::deque<std::string> order_;  // ids, oldest first
};

}  // namespace sprout::supervisor
