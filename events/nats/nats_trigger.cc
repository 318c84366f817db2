#include "events/nats/nats_trigger.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <optional>
#include <string_view>
#include <strings.h>

#include "base/log.h"
#include "events/nats/batch_response.h"
#include "events/nats/trigger_config.h"
#include "protocol/limits.h"

namespace sprout::events {
namespace {

using std::chrono::milliseconds;

int64_t unix_ms_now() {
  return std::chrono::duration_cast<milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::vector<QueueHeader> headers_of(natsMsg* message) {
  std::vector<QueueHeader> headers;
  const char** keys = nullptr;
  int key_count = 0;
  if (natsMsgHeader_Keys(message, &keys, &key_count) != NATS_OK) return headers;
  for (int i = 0; i < key_count; ++i) {
    const char** values = nullptr;
    int value_count = 0;
    if (natsMsgHeader_Values(message, keys[i], &values, &value_count) != NATS_OK) continue;
    QueueHeader header{.name = keys[i], .values = {}};
    for (int j = 0; j < value_count; ++j) header.values.emplace_back(values[j] ? values[j] : "");
    free(static_cast<void*>(values));  // the array is ours, the strings the message's
    headers.push_back(std::move(header));
  }
  free(static_cast<void*>(keys));
  return headers;
}

// JetStream's own publish controls (Nats-Msg-Id, Nats-Expected-*) must not
// be replayed onto the dead letter: they would make its publish fail or be
// taken for a duplicate.
bool is_nats_control_header(const std::string& name) {
  return name.size() >= 5 && strncasecmp(name.c_str(), "Nats-", 5) == 0;
}

// A header value is one line: the reason (a handler's error message) may
// hold line breaks, and is cut to a size fit for a header.
std::string one_header_line(std::string_view text) {
  constexpr size_t kMaxHeaderValue = 1024;
  std::string line(text.substr(0, kMaxHeaderValue));
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < ' ' || c == 0x7f) c = ' ';
  }
  return line;
}

void log_trigger(LogLevel level, const api::Trigger& trigger, const std::string& text) {
  log_line(level, "NATS trigger " + trigger.id() + " (" + trigger.function() + "): " + text);
}

}  // namespace

struct NatsTrigger::Wakeup {
  std::mutex mutex;
  std::condition_variable changed;
  bool stopping = false;
  uint64_t current_call = 0;
  std::optional<api::InvokeResponse> answer;
};

struct NatsTrigger::Delivery {
  NatsMessage message;
  QueueMessage record;
  std::string message_id;
};

ConsumerSpec consumer_spec_of(const api::Trigger& trigger, milliseconds ack_wait) {
  const api::NatsTrigger& nats = trigger.nats();
  return ConsumerSpec{
      .stream = nats.stream(),
      .durable = nats.durable_name().empty() ? durable_name_of(trigger.id()) : nats.durable_name(),
      .filter_subject = nats.subject(),
      .ack_wait = ack_wait,
  };
}

milliseconds retry_delay(const NatsTriggerTiming& timing, uint64_t deliveries) {
  milliseconds delay = timing.retry_min;
  for (uint64_t i = 1; i < deliveries && delay < timing.retry_max; ++i) delay *= 2;
  return std::min(delay, timing.retry_max);
}

NatsTrigger::NatsTrigger(api::Trigger trigger, Invoker& invoker, NatsTriggerTiming timing)
    : trigger_(std::move(trigger)),
      invoker_(invoker),
      timing_(timing),
      wakeup_(std::make_shared<Wakeup>()) {}

NatsTrigger::~NatsTrigger() { stop(); }

void NatsTrigger::start() {
  if (thread_.joinable()) return;
  {
    const std::lock_guard lock(wakeup_->mutex);
    wakeup_->stopping = false;
  }
  set_state("connecting: not connected yet");
  thread_ = std::thread([this] { run(); });
}

void NatsTrigger::stop() {
  request_stop();
  if (thread_.joinable()) thread_.join();
  set_state("stopped");
}

void NatsTrigger::request_stop() {
  {
    const std::lock_guard lock(wakeup_->mutex);
    wakeup_->stopping = true;
    ++wakeup_->current_call;  // the call in flight, if any, is dropped: its answer too
  }
  wakeup_->changed.notify_all();
}

std::string NatsTrigger::state() const {
  const std::lock_guard lock(mutex_);
  return state_;
}

uint64_t NatsTrigger::delivered() const {
  const std::lock_guard lock(mutex_);
  return delivered_;
}

void NatsTrigger::set_state(std::string state) {
  const std::lock_guard lock(mutex_);
  state_ = std::move(state);
}

bool NatsTrigger::stopping() const {
  const std::lock_guard lock(wakeup_->mutex);
  return wakeup_->stopping;
}

bool NatsTrigger::pause(milliseconds delay) {
  std::unique_lock lock(wakeup_->mutex);
  wakeup_->changed.wait_for(lock, delay, [this] { return wakeup_->stopping; });
  return !wakeup_->stopping;
}

void NatsTrigger::run() {
  const ConsumerSpec spec = consumer_spec_of(trigger_, timing_.ack_wait);
  milliseconds backoff = timing_.reconnect_min;
  std::string last_failure;
  while (!stopping()) {
    bool served = false;
    const std::optional<Error> failure = serve(spec, served);
    if (served) {
      backoff = timing_.reconnect_min;
      last_failure.clear();
    }
    if (stopping()) break;
    if (failure) {
      const std::string message = failure->message();
      set_state("connecting: " + message);
      if (message != last_failure) log_trigger(LogLevel::kWarning, trigger_, message);
      last_failure = message;
    }
    if (!pause(backoff)) break;
    backoff = std::min(backoff * 2, timing_.reconnect_max);
  }
}

std::optional<Error> NatsTrigger::serve(const ConsumerSpec& spec, bool& served) {
  Result<std::unique_ptr<JetStreamSession>> session =
      JetStreamSession::connect(trigger_.nats().url(), timing_.broker_timeout);
  if (!session) return session.error();
  if (Result<void> consumer = (*session)->ensure_consumer(spec); !consumer) {
    return consumer.error();
  }
  // Declared after the session, so destroyed before its connection.
  Result<std::unique_ptr<PullSubscription>> subscription = (*session)->subscribe(spec);
  if (!subscription) return subscription.error();
  if (state() != "active" && state() != "connecting: not connected yet") {
    log_trigger(LogLevel::kInfo, trigger_, "active again");
  }
  set_state("active");
  served = true;
  while (!stopping()) {
    Result<std::vector<NatsMessage>> batch = collect_batch(**subscription);
    if (!batch) return batch.error();
    if (!batch->empty()) {
      deliver(**session, std::move(*batch));
    } else if (!(*session)->connected()) {
      // The client reconnects by itself, but its fetches then just time
      // out: say so, and start afresh (connection, consumer) ourselves.
      return Error("connection to " + trigger_.nats().url(), "", 0, "lost");
    }
  }
  return std::nullopt;
}

Result<std::vector<NatsMessage>> NatsTrigger::collect_batch(PullSubscription& subscription) {
  using Clock = std::chrono::steady_clock;
  const size_t wanted = trigger_.nats().batch_size();
  const milliseconds window(trigger_.nats().batch_window_ms());
  std::vector<NatsMessage> batch;
  std::optional<Clock::time_point> deadline;
  while (!stopping() && batch.size() < wanted) {
    milliseconds wait = timing_.fetch_poll;
    if (deadline) {
      const auto left = std::chrono::ceil<milliseconds>(*deadline - Clock::now());
      if (left <= milliseconds(0)) break;
      wait = std::min(wait, left);
    }
    Result<std::vector<NatsMessage>> fetched =
        subscription.fetch(static_cast<int>(wanted - batch.size()), wait);
    if (!fetched) {
      if (batch.empty()) return std::unexpected(fetched.error());
      break;  // deliver what came; the failure shows again on the next fetch
    }
    for (NatsMessage& message : *fetched) batch.push_back(std::move(message));
    // Nothing yet: back to the caller, which checks the connection.
    if (batch.empty()) break;
    if (window.count() == 0) break;
    if (!deadline) deadline = Clock::now() + window;
  }
  if (stopping()) {
    give_back(batch);
    batch.clear();
  }
  return batch;
}

void NatsTrigger::give_back(const std::vector<NatsMessage>& messages) {
  for (const NatsMessage& message : messages) {
    // Best effort: a message not given back is redelivered after AckWait.
    (void)natsMsg_Nak(message.get(), nullptr);
  }
}

void NatsTrigger::deliver(JetStreamSession& session, std::vector<NatsMessage> messages) {
  const int64_t now_ms = unix_ms_now();
  std::vector<Delivery> deliveries;
  std::vector<QueueMessage> records;
  uint64_t most_deliveries = 1;
  for (NatsMessage& message : messages) {
    jsMsgMetaData* meta = nullptr;
    if (natsMsg_GetMetaData(&meta, message.get()) != NATS_OK) {
      // Not a JetStream delivery: nothing a handler could be given.
      log_trigger(LogLevel::kWarning, trigger_, "dropped a message without JetStream metadata");
      (void)natsMsg_Term(message.get(), nullptr);
      continue;
    }
    QueueMessage record;
    record.stream = meta->Stream != nullptr ? meta->Stream : trigger_.nats().stream();
    record.stream_sequence = meta->Sequence.Stream;
    record.delivery_count = std::max<uint64_t>(meta->NumDelivered, 1);
    record.sent_unix_ms = meta->Timestamp / 1000000;
    jsMsgMetaData_Destroy(meta);
    record.subject = natsMsg_GetSubject(message.get());
    record.data.assign(natsMsg_GetData(message.get()),
                       static_cast<size_t>(natsMsg_GetDataLength(message.get())));
    record.headers = headers_of(message.get());
    const char* reply = natsMsg_GetReply(message.get());
    record.receipt_handle = reply != nullptr ? reply : "";
    record.first_received_unix_ms =
        first_received_ms_.try_emplace(record.stream_sequence, now_ms).first->second;
    most_deliveries = std::max(most_deliveries, record.delivery_count);
    std::string message_id = sqs_message_id(record.stream, record.stream_sequence);
    records.push_back(record);
    deliveries.push_back(Delivery{.message = std::move(message),
                                  .record = std::move(record),
                                  .message_id = std::move(message_id)});
  }
  if (deliveries.empty()) return;
  // A batch whose event would be over the payload limit is cut: the records
  // that do not fit go back to the stream at once and lead the next batch.
  // (Refused whole, every message of it would be dead-lettered without its
  // handler ever seeing it.) A record too large alone is delivered alone;
  // its invocation is refused and it is dead-lettered as a failure would be.
  std::string payload = sqs_batch_event(records);
  std::vector<NatsMessage> held_back;
  while (payload.size() > limits::kMaxPayloadBytes && records.size() > 1) {
    held_back.push_back(std::move(deliveries.back().message));
    deliveries.pop_back();
    records.pop_back();
    payload = sqs_batch_event(records);
  }
  if (!held_back.empty()) {
    give_back(held_back);
    most_deliveries = 1;
    for (const QueueMessage& record : records)
      most_deliveries = std::max(most_deliveries, record.delivery_count);
  }

  uint64_t call = 0;
  {
    const std::lock_guard lock(wakeup_->mutex);
    if (!wakeup_->stopping) {
      call = ++wakeup_->current_call;
      wakeup_->answer.reset();
    }
  }
  if (call == 0) {  // stopping: not handed over, so given back at once
    for (const Delivery& delivery : deliveries) (void)natsMsg_Nak(delivery.message.get(), nullptr);
    return;
  }
  {
    const std::lock_guard lock(mutex_);
    delivered_ += deliveries.size();
  }
  EventInvocation invocation{
      .function = trigger_.function(),
      .payload = std::move(payload),
      .request_id = {},
      .source = api::QUEUE,
      .source_id = trigger_.id(),
      .attempt = static_cast<uint32_t>(std::min<uint64_t>(most_deliveries, UINT32_MAX)),
  };
  invoker_.invoke(invocation, [wakeup = wakeup_, call](api::InvokeResponse answer) {
    {
      const std::lock_guard lock(wakeup->mutex);
      if (wakeup->current_call != call) return;
      wakeup->answer = std::move(answer);
    }
    wakeup->changed.notify_all();
  });
  std::optional<api::InvokeResponse> answer = await_answer(call, deliveries);
  if (!answer) return;  // stopping: JetStream redelivers the batch after AckWait
  settle(session, deliveries, *answer);
}

std::optional<api::InvokeResponse> NatsTrigger::await_answer(
    uint64_t call, const std::vector<Delivery>& deliveries) {
  const milliseconds beat = std::max(timing_.ack_wait / 3, milliseconds(1));
  std::unique_lock lock(wakeup_->mutex);
  while (true) {
    const bool woken = wakeup_->changed.wait_for(
        lock, beat, [this] { return wakeup_->stopping || wakeup_->answer.has_value(); });
    if (wakeup_->stopping || wakeup_->current_call != call) return std::nullopt;
    if (woken) {
      std::optional<api::InvokeResponse> answer = std::move(wakeup_->answer);
      wakeup_->answer.reset();
      return answer;
    }
    lock.unlock();
    for (const Delivery& delivery : deliveries) {
      // Best effort: when the mark is lost, the batch may be redelivered
      // while it still runs (at least once allows it).
      (void)natsMsg_InProgress(delivery.message.get(), nullptr);
    }
    lock.lock();
  }
}

void NatsTrigger::settle(JetStreamSession& session, const std::vector<Delivery>& deliveries,
                         const api::InvokeResponse& answer) {
  std::vector<std::string> ids;
  ids.reserve(deliveries.size());
  for (const Delivery& delivery : deliveries) ids.push_back(delivery.message_id);
  const BatchOutcome outcome = read_batch_response(answer, ids);
  // sproutd stopping is no fault of the messages: they wait for the next run.
  const bool shutting_down = answer.status() == api::UNAVAILABLE;
  const uint64_t max_deliveries = trigger_.nats().max_deliveries();

  size_t failed = 0;
  size_t dead = 0;
  for (const Delivery& delivery : deliveries) {
    natsMsg* message = delivery.message.get();
    const uint64_t sequence = delivery.record.stream_sequence;
    if (!outcome.failed(delivery.message_id)) {
      if (natsMsg_Ack(message, nullptr) != NATS_OK) {
        log_trigger(LogLevel::kWarning, trigger_,
                    "ack of stream sequence " + std::to_string(sequence) +
                        " failed; it will be delivered again");
      }
      first_received_ms_.erase(sequence);
      continue;
    }
    ++failed;
    if (!shutting_down && delivery.record.delivery_count >= max_deliveries) {
      const std::string reason = outcome.whole_batch_failed
                                     ? outcome.reason
                                     : "the function reported it in batchItemFailures";
      const Result<void> published = dead_letter(session, delivery, reason);
      if (published) {
        (void)natsMsg_Term(message, nullptr);  // lost: redelivered, dead-lettered again
        first_received_ms_.erase(sequence);
        ++dead;
        continue;
      }
      log_trigger(LogLevel::kError, trigger_,
                  "dead-lettering stream sequence " + std::to_string(sequence) +
                      " failed, retrying later: " + published.error().message());
    }
    const milliseconds delay = retry_delay(timing_, delivery.record.delivery_count);
    // Lost: redelivered after AckWait instead.
    (void)natsMsg_NakWithDelay(message, delay.count(), nullptr);
  }
  if (Result<void> flushed = session.flush(timing_.broker_timeout); !flushed) {
    log_trigger(LogLevel::kWarning, trigger_,
                "settling a batch: " + flushed.error().message() +
                    "; its messages may be delivered again");
  }
  if (failed > 0) {
    log_trigger(LogLevel::kInfo, trigger_,
                std::to_string(failed) + " of " + std::to_string(deliveries.size()) +
                    " messages failed (" +
                    one_header_line(outcome.whole_batch_failed ? outcome.reason
                                                               : "batchItemFailures") +
                    "), " +
                    std::to_string(dead) + " dead-lettered to " +
                    trigger_.nats().dead_letter_subject());
  }
}

Result<void> NatsTrigger::dead_letter(JetStreamSession& session, const Delivery& delivery,
                                      const std::string& reason) {
  const QueueMessage& record = delivery.record;
  natsMsg* raw = nullptr;
  natsStatus status =
      natsMsg_Create(&raw, trigger_.nats().dead_letter_subject().c_str(), nullptr,
                     record.data.data(), static_cast<int>(record.data.size()));
  if (status != NATS_OK) return nats_error("create a dead letter", status);
  const NatsMessage letter(raw);
  for (const QueueHeader& header : record.headers) {
    if (is_nats_control_header(header.name)) continue;
    for (const std::string& value : header.values) {
      if (status == NATS_OK) status = natsMsgHeader_Add(raw, header.name.c_str(), value.c_str());
    }
  }
  const std::pair<const char*, std::string> ours[] = {
      {kDeadLetterReasonHeader, one_header_line(reason)},
      {kDeadLetterFunctionHeader, trigger_.function()},
      {kDeadLetterTriggerHeader, trigger_.id()},
      {kDeadLetterDeliveriesHeader, std::to_string(record.delivery_count)},
      {kDeadLetterStreamHeader, record.stream},
      {kDeadLetterSequenceHeader, std::to_string(record.stream_sequence)},
      {kDeadLetterSubjectHeader, record.subject},
  };
  for (const auto& [name, value] : ours) {
    if (status == NATS_OK) status = natsMsgHeader_Set(raw, name, value.c_str());
  }
  if (status != NATS_OK) return nats_error("set the headers of a dead letter", status);
  // The same id for every attempt, so that a stream keeping dead letters
  // drops the copy of a publish repeated after a crash.
  return session.publish(raw, "sprout-dlq-" + trigger_.id() + "-" + record.stream + "-" +
                                  std::to_string(record.stream_sequence));
}

}  // namespace sprout::events
