// The durable queue of asynchronous invocations: what sproutd's InvokeAsync,
// HTTP `X-Amz-Invocation-Type: Event`, schedules and file triggers go
// through, as Lambda's own async event queue.
//
//  - enqueue() answers OK only once the event is committed (fsynced) to
//    <state>/events.db; the id it answers is the event's aws_request_id, the
//    same for every attempt.
//  - A dispatcher thread runs due events through Invoker::invoke, at most
//    `max_in_flight` at once, and applies each answer (retry_policy.h):
//    success, a retry later, or failure: the function's dead-letter store,
//    or a new event to its AsyncConfig.on_failure function carrying Lambda's
//    destination record (destination_record.h).
//  - Delivery is at least once: an attempt in flight when sproutd dies is
//    run again, with the same request id and attempt number, after the
//    restart. stop() (an orderly shutdown) is the same: answers that arrive
//    after it change nothing, so a shutdown that kills running invocations
//    costs their events no attempt.
//  - The final answer of each event (success or failure) is kept (the last
//    `kept_results`) for GetResult, across restarts.
//  - An event that carries a destination record never makes another one:
//    when it fails it goes to the dead letters (two functions that are each
//    other's on_failure cannot bounce an event forever).
//
// Disk bounds: what is stored of an answer is cut (bounded_response.h): a
// kept result keeps at most 256 KiB of result (the cut said in `detail`),
// 4 KiB of log tail (`logs_truncated`), 1 KiB of error message and detail,
// 256 bytes of error type, 64 stack frames of 1 KiB; a dead letter's and a
// queued event's last_error at most 1 KiB. Each function keeps at most
// `max_dead_letters` dead letters: beyond, the oldest are dropped, counted
// (dead_letters_dropped()) and logged. A destination record stays within
// 256 KiB (destination_record.h). So the database holds at most about
// max_queued x (payload + 256 KiB) + kept_results x 270 KiB + functions x
// max_dead_letters x (payload + 1 KiB).
//
// Tables (all prefixed async_): async_events (queued and in-flight events),
// async_dead_letters, async_results.
//
// Thread-safe. No thread is held per invocation or per waiting GetResult:
// answers are callbacks run by whichever thread ends the invocation.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"
#include "events/event_sink.h"

namespace sprout::events::async {

struct AsyncQueueOptions {
  // The event database, <state>/events.db (opened with Durability::kFull).
  std::string database_path;
  // Lambda's 60 s: retry N of a failed function waits N x this; throttles
  // back off from this / 60 up to 5 x this (retry_policy.h).
  int64_t retry_base_delay_ms = 60'000;
  // Events queued (and in flight) at most; enqueue() beyond: THROTTLED.
  uint64_t max_queued = 100'000;
  // Attempts running at once, all functions together.
  uint32_t max_in_flight = 64;
  // Final answers kept for GetResult (the oldest are dropped first).
  uint64_t kept_results = 10'000;
  // Dead letters kept per function (the oldest are dropped first).
  uint64_t max_dead_letters = 10'000;
  // The clock, in Unix ms; empty: the system clock. Tests move a fake one
  // and call AsyncQueue::wake().
  std::function<int64_t()> now_ms;
};

// The queue's state, shared with the callbacks of invocations in flight so
// that an answer arriving after the queue is gone finds it gone (internal).
struct AsyncQueueCore;

class AsyncQueue : public EventQueue {
 public:
  // Opens (creating) the tables and counts the events already queued. The
  // invoker must outlive the queue. Nothing runs before start().
  static Result<std::unique_ptr<AsyncQueue>> open(AsyncQueueOptions options, Invoker& invoker);
  ~AsyncQueue() override;  // stop()
  AsyncQueue(const AsyncQueue&) = delete;
  AsyncQueue& operator=(const AsyncQueue&) = delete;

  // Starts the dispatcher: every queued event whose time has come runs,
  // those that were in flight when sproutd last stopped included.
  void start();
  // Dispatches nothing more and ignores answers still to come (their events
  // stay queued for the next start, the attempt uncounted). Waiting
  // GetResult calls are not answered; `finished` callbacks are dropped.
  // Returns once the dispatcher thread has ended. Idempotent.
  void stop();

  // EventQueue. OK once committed; NOT_FOUND: async_config(function) has no
  // such function; THROTTLED: max_queued reached; UNAVAILABLE: after stop();
  // INTERNAL: the database or `same_transaction` failed (nothing stored).
  // `finished` is called once with the event's final answer (success, or
  // failure after its retries; for an event sent to an on-failure function,
  // the failed answer), or with NOT_FOUND if forget_function() drops it.
  Enqueued enqueue(const NewEvent& event,
                   const std::function<Result<void>(Database&)>& same_transaction = {},
                   std::function<void(const api::InvokeResponse&)> finished = {}) override;

  // A GetResult that waits; withdraw() takes it back (its answer is then
  // never called), as a client that goes away must. Copyable; withdrawing
  // twice, after the answer, or after the queue is gone does nothing.
  class ResultWait {
   public:
    ResultWait() = default;
    void withdraw() const;

   private:
    friend class AsyncQueue;
    ResultWait(std::weak_ptr<AsyncQueueCore> core, std::string request_id, uint64_t id)
        : core_(std::move(core)), request_id_(std::move(request_id)), id_(id) {}
    std::weak_ptr<AsyncQueueCore> core_;
    std::string request_id_;
    uint64_t id_ = 0;
  };
  using ResultAnswer = std::function<void(api::GetResultResponse)>;

  // GetResult: answers at once with done and the final InvokeResponse when
  // the event has ended (its result kept, or it is a dead letter), with
  // done=false when it is still queued or in flight and !wait; with wait,
  // answers when it ends (then `*wait_handle` is set). A dead letter's
  // answer is its last status and error. False, `answer` not called: the id
  // is unknown (never given, malformed, or its result dropped).
  bool result(const std::string& request_id, bool wait, ResultAnswer answer,
              ResultWait* wait_handle = nullptr);

  // A function's dead letters, oldest first; limit 0: 100.
  Result<std::vector<api::DeadLetter>> dead_letters(const std::string& function, uint32_t limit);
  // Moves dead letters of `function` back to the queue (empty ids: all of
  // them): same request id, attempts from zero, enqueued now, source ASYNC.
  // Ids that are not dead letters of `function` are skipped; no more than
  // max_queued leaves room for are moved. Returns how many moved.
  Result<uint32_t> redrive(const std::string& function, const std::vector<std::string>& request_ids);
  // The function was deleted: its queued events and dead letters are
  // dropped (a deleted function's events cannot run, and a new function of
  // the same name should not inherit them); their waiting GetResult calls
  // and `finished` callbacks get NOT_FOUND. Attempts in flight end
  // unrecorded. Kept results stay until they age out.
  Result<void> forget_function(const std::string& function);

  // Events queued, in flight included (health, metrics).
  uint64_t queued() const;
  // Attempts running now.
  uint32_t in_flight() const;
  // GetResult calls waiting now.
  uint32_t waiting() const;
  // Dead letters dropped by the max_dead_letters cap since open().
  uint64_t dead_letters_dropped() const;

  // Makes the dispatcher look at once at what is due (a fake clock moved).
  void wake();

 private:
  explicit AsyncQueue(std::shared_ptr<AsyncQueueCore> core) : core_(std::move(core)) {}
  std::shared_ptr<AsyncQueueCore> core_;
  std::thread dispatcher_;
};

}  // namespace sprout::events::async
