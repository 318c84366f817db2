// The NATS JetStream queue triggers of sproutd: their definitions, kept in
// the event database (trigger_store.h), and one running NatsTrigger each.
//
// Adding a trigger checks it all before anything is kept: the definition
// (trigger_config.h), that the function exists, that the id is free, and
// that the broker answers and holds the stream and subject, by creating the
// trigger's durable consumer there. A stream is never created: which
// subjects, retention and limits a stream has are the operator's choice,
// so a trigger on a stream that does not exist is refused.
//
// Thread-safe. add() and remove() talk to the broker (each call bounded by
// timing.broker_timeout): call them off any event loop that must not block.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"
#include "events/event_sink.h"
#include "events/nats/nats_trigger.h"
#include "events/nats/trigger_store.h"

namespace sprout::events {

struct NatsTriggersOptions {
  std::string database_path;  // <state>/events.db
  // Whether a function of that name is deployed (add() refuses others).
  std::function<bool(const std::string& function)> function_exists;
  NatsTriggerTiming timing;
};

class NatsTriggers {
 public:
  // Opens the table and reads the definitions; starts nothing.
  static Result<std::unique_ptr<NatsTriggers>> open(Invoker& invoker,
                                                    NatsTriggersOptions options);
  // Stops.
  ~NatsTriggers();
  NatsTriggers(const NatsTriggers&) = delete;
  NatsTriggers& operator=(const NatsTriggers&) = delete;

  // Starts every stored trigger (and, from then on, every added one).
  void start();
  // Stops them all, together; returns within about timing.fetch_poll.
  void stop();

  // Checks, creates the durable consumer, stores and (once started) starts
  // the trigger; answers it as stored, with its id (generated "nats-..."
  // when none was given), created_unix_ms and nats.durable_name. On
  // failure, `refusal` (when given) says how to answer the client:
  // INVALID_ARGUMENT (the definition, the id is taken, the broker refused
  // the stream or subject), NOT_FOUND (no such function), UNAVAILABLE (the
  // broker did not answer), INTERNAL (the database).
  Result<api::Trigger> add(api::Trigger trigger, api::Status* refusal = nullptr);
  // `function` empty: all. By id, with state and delivered.
  std::vector<api::Trigger> list(const std::string& function) const;
  // Forgets the trigger, stops it and deletes its durable consumer (the
  // last best effort: when the broker cannot be reached, it is logged and
  // the consumer stays). false: no NATS trigger has that id.
  Result<bool> remove(const std::string& id);
  // remove() of each trigger of `function` (when it is deleted); how many.
  Result<size_t> remove_function(const std::string& function);

 private:
  NatsTriggers(Invoker& invoker, NatsTriggersOptions options,
               std::unique_ptr<NatsTriggerStore> store)
      : invoker_(invoker), options_(std::move(options)), store_(std::move(store)) {}
  api::Trigger with_run_state(const NatsTrigger& trigger) const;
  std::string unused_id() const;  // mutex_ held
  void delete_consumer(const api::Trigger& trigger) const;

  Invoker& invoker_;
  const NatsTriggersOptions options_;

  mutable std::mutex mutex_;
  std::unique_ptr<NatsTriggerStore> store_;
  std::map<std::string, std::unique_ptr<NatsTrigger>> triggers_;  // by id
  bool started_ = false;
};

}  // namespace sprout::events
