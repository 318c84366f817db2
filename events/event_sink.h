// The two ways an event source hands work to sproutd, as interfaces, so that
// each source is built and tested without the rest of sproutd:
//
//  - Invoker: runs one invocation now and answers when it ends (what a
//    poll-based source such as a queue trigger does with a batch, and what
//    the async queue does with each attempt). Implemented by sproutd over
//    FunctionManager::invoke; every invocation it runs is recorded in the
//    history with the source given here.
//  - EventQueue: persists an event for asynchronous delivery (retries,
//    maximum age, dead letters) and answers once it is on disk (what
//    InvokeAsync, HTTP Event, schedules and file triggers do, as Lambda
//    invokes asynchronously for S3 and EventBridge).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"

namespace sprout::events {

class Database;

struct EventInvocation {
  std::string function;
  std::string payload;
  // The aws_request_id the handler sees; empty: a new one. An async event
  // keeps one id across all its attempts.
  std::string request_id;
  api::InvocationSource source = api::API;
  std::string source_id;  // schedule or trigger id, for the history
  uint32_t attempt = 1;
};

class Invoker {
 public:
  virtual ~Invoker() = default;
  // Runs `call`; `done` is called exactly once, from any thread, with the
  // invocation's answer (its status says how it ended, THROTTLED and
  // NOT_FOUND included). Never blocks for the invocation.
  virtual void invoke(const EventInvocation& call,
                      std::function<void(api::InvokeResponse)> done) = 0;
  // The current version's AsyncConfig; std::nullopt: no such function.
  virtual std::optional<api::AsyncConfig> async_config(const std::string& function) = 0;
};

struct NewEvent {
  std::string function;
  std::string payload;
  api::InvocationSource source = api::ASYNC;
  std::string source_id;
};

struct Enqueued {
  api::Status status = api::OK;  // OK, NOT_FOUND, THROTTLED (queue full), UNAVAILABLE, INTERNAL
  std::string error;             // when status is not OK
  std::string request_id;        // when OK: the event's id and aws_request_id
};

class EventQueue {
 public:
  virtual ~EventQueue() = default;
  // Persists the event (fsynced) and only then answers OK. `same_transaction`,
  // when given, runs on the queue's connection inside the transaction that
  // inserts the event (a source's cursor moves exactly when its event is
  // stored); its failure refuses the event. `finished`, when given, is called
  // once when the event's last attempt ends (OK, or dead-lettered), in this
  // process only: nothing of it survives a restart.
  virtual Enqueued enqueue(const NewEvent& event,
                           const std::function<Result<void>(Database&)>& same_transaction = {},
                           std::function<void(const api::InvokeResponse&)> finished = {}) = 0;
};

}  // namespace sprout::events
