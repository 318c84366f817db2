#include "events/nats/nats_triggers.h"

#include <chrono>
#include <random>

#include "base/log.h"
#include "events/nats/trigger_config.h"

namespace sprout::events {
namespace {

int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<NatsTriggers>> NatsTriggers::open(Invoker& invoker,
                                                         NatsTriggersOptions options) {
  Result<std::unique_ptr<NatsTriggerStore>> store = NatsTriggerStore::open(options.database_path);
  if (!store) return std::unexpected(store.error());
  Result<std::vector<api::Trigger>> stored = (*store)->load();
  if (!stored) return std::unexpected(stored.error());
  const NatsTriggerTiming timing = options.timing;
  std::unique_ptr<NatsTriggers> triggers(
      new NatsTriggers(invoker, std::move(options), std::move(*store)));
  for (api::Trigger& definition : *stored) {
    const std::string id = definition.id();
    triggers->triggers_.emplace(
        id, std::make_unique<NatsTrigger>(std::move(definition), invoker, timing));
  }
  return triggers;
}

NatsTriggers::~NatsTriggers() { stop(); }

void NatsTriggers::start() {
  const std::lock_guard lock(mutex_);
  started_ = true;
  for (auto& [id, trigger] : triggers_) trigger->start();
}

void NatsTriggers::stop() {
  const std::lock_guard lock(mutex_);
  started_ = false;
  for (auto& [id, trigger] : triggers_) trigger->request_stop();
  for (auto& [id, trigger] : triggers_) trigger->stop();
}

Result<api::Trigger> NatsTriggers::add(api::Trigger trigger, api::Status* refusal) {
  const auto refuse = [refusal](api::Status status, Error error) -> Result<api::Trigger> {
    if (refusal != nullptr) *refusal = status;
    return std::unexpected(std::move(error));
  };
  trigger.clear_state();
  trigger.clear_delivered();
  if (trigger.function().empty()) {
    return refuse(api::INVALID_ARGUMENT, Error("NATS trigger", "", 0, "no function named"));
  }
  Result<api::Trigger> normalized = normalize_nats_trigger(std::move(trigger));
  if (!normalized) return refuse(api::INVALID_ARGUMENT, normalized.error());
  api::Trigger& definition = *normalized;
  if (!options_.function_exists || !options_.function_exists(definition.function())) {
    return refuse(api::NOT_FOUND, Error("NATS trigger", "", 0,
                                        "function " + definition.function() + " does not exist"));
  }
  {
    const std::lock_guard lock(mutex_);
    if (definition.id().empty()) {
      definition.set_id(unused_id());
    } else if (triggers_.contains(definition.id())) {
      return refuse(api::INVALID_ARGUMENT,
                    Error("NATS trigger", "", 0, "a trigger with id " + definition.id() + " exists"));
    }
  }
  definition.mutable_nats()->set_durable_name(durable_name_of(definition.id()));
  definition.set_created_unix_ms(unix_ms_now());

  {
    // The broker's word on the stream and subject, before anything is kept.
    Result<std::unique_ptr<JetStreamSession>> session =
        JetStreamSession::connect(definition.nats().url(), options_.timing.broker_timeout);
    if (!session) return refuse(api::UNAVAILABLE, session.error());
    if (Result<void> consumer = (*session)->ensure_consumer(
            consumer_spec_of(definition, options_.timing.ack_wait));
        !consumer) {
      const bool no_answer = consumer.error().code == ErrorCode::kTimeout;
      return refuse(no_answer ? api::UNAVAILABLE : api::INVALID_ARGUMENT, consumer.error());
    }
  }

  const std::lock_guard lock(mutex_);
  if (triggers_.contains(definition.id())) {
    return refuse(api::INVALID_ARGUMENT,
                  Error("NATS trigger", "", 0, "a trigger with id " + definition.id() + " exists"));
  }
  if (Result<void> stored = store_->insert(definition); !stored) {
    return refuse(api::INTERNAL, stored.error());
  }
  auto& running = triggers_[definition.id()];
  running = std::make_unique<NatsTrigger>(definition, invoker_, options_.timing);
  if (started_) running->start();
  log_line(LogLevel::kInfo, "NATS trigger " + definition.id() + " added: " +
                                definition.nats().url() + " stream " + definition.nats().stream() +
                                " subject " + definition.nats().subject() + " -> " +
                                definition.function());
  return with_run_state(*running);
}

std::vector<api::Trigger> NatsTriggers::list(const std::string& function) const {
  const std::lock_guard lock(mutex_);
  std::vector<api::Trigger> out;
  for (const auto& [id, trigger] : triggers_) {
    if (function.empty() || trigger->definition().function() == function) {
      out.push_back(with_run_state(*trigger));
    }
  }
  return out;
}

Result<bool> NatsTriggers::remove(const std::string& id) {
  std::unique_ptr<NatsTrigger> trigger;
  {
    const std::lock_guard lock(mutex_);
    const auto found = triggers_.find(id);
    if (found == triggers_.end()) return false;
    Result<bool> erased = store_->erase(id);
    if (!erased) return std::unexpected(erased.error());
    trigger = std::move(found->second);
    triggers_.erase(found);
  }
  trigger->stop();
  delete_consumer(trigger->definition());
  log_line(LogLevel::kInfo, "NATS trigger " + id + " removed");
  return true;
}

Result<size_t> NatsTriggers::remove_function(const std::string& function) {
  std::vector<std::string> ids;
  {
    const std::lock_guard lock(mutex_);
    for (const auto& [id, trigger] : triggers_) {
      if (trigger->definition().function() == function) ids.push_back(id);
    }
  }
  size_t removed = 0;
  for (const std::string& id : ids) {
    Result<bool> done = remove(id);
    if (!done) return std::unexpected(done.error());
    if (*done) ++removed;
  }
  return removed;
}

api::Trigger NatsTriggers::with_run_state(const NatsTrigger& trigger) const {
  api::Trigger out = trigger.definition();
  out.set_state(trigger.state());
  out.set_delivered(trigger.delivered());
  return out;
}

std::string NatsTriggers::unused_id() const {
  std::random_device random;
  std::uniform_int_distribution<int> digit(0, 15);
  while (true) {
    std::string id = "nats-";
    for (int i = 0; i < 12; ++i) id += "0123456789abcdef"[digit(random)];
    if (!triggers_.contains(id)) return id;
  }
}

void NatsTriggers::delete_consumer(const api::Trigger& trigger) const {
  const ConsumerSpec spec = consumer_spec_of(trigger, options_.timing.ack_wait);
  Result<std::unique_ptr<JetStreamSession>> session =
      JetStreamSession::connect(trigger.nats().url(), options_.timing.broker_timeout);
  Result<bool> deleted = session ? (*session)->delete_consumer(spec.stream, spec.durable)
                                 : Result<bool>(std::unexpected(session.error()));
  if (!deleted) {
    log_line(LogLevel::kWarning, "NATS trigger " + trigger.id() + " removed, but its consumer " +
                                     spec.durable + " stays on " + trigger.nats().url() + ": " +
                                     deleted.error().message());
  }
}

}  // namespace sprout::events
