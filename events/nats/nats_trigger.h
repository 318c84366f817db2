// One NATS JetStream queue trigger at work: a thread that keeps a
// connection to the broker and a durable pull consumer ("sprout-<id>") on
// the trigger's stream and subject, fetches batches, hands each to the
// function as Lambda's SQS event (one batch in flight at a time, so a
// trigger delivers in order as Lambda's SQS poller roughly does), and
// settles every message by the handler's answer (batch_response.h):
//
//  - succeeded: acked.
//  - failed, delivered fewer than max_deliveries times: negatively acked
//    with a delay that doubles with the delivery count (capped), so
//    JetStream redelivers it later.
//  - failed on its max_deliveries-th delivery (or later): published with
//    its data and headers to the dead-letter subject, plus headers that say
//    why, then terminated (never redelivered). When that publish fails, the
//    message is negatively acked instead and dead-lettered on a later try.
//
// Nothing is lost when sproutd dies: a message is acked only after its
// invocation answered, and the consumer's state lives in the broker, so
// what was in flight is redelivered AckWait after the last sign of life.
// While a batch runs, its messages are marked "in progress" every third of
// AckWait, so a long queue wait or a long function never causes a
// redelivery while the first delivery still runs.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/proto/sprout_api.pb.h"
#include "events/event_sink.h"
#include "events/nats/jetstream_session.h"
#include "events/nats/sqs_event.h"

namespace sprout::events {

// Dead-lettered messages carry these headers (besides their own).
inline constexpr const char* kDeadLetterReasonHeader = "Sprout-Dead-Letter-Reason";
inline constexpr const char* kDeadLetterFunctionHeader = "Sprout-Function";
inline constexpr const char* kDeadLetterTriggerHeader = "Sprout-Trigger";
inline constexpr const char* kDeadLetterDeliveriesHeader = "Sprout-Delivery-Count";
inline constexpr const char* kDeadLetterStreamHeader = "Sprout-Source-Stream";
inline constexpr const char* kDeadLetterSequenceHeader = "Sprout-Source-Sequence";
inline constexpr const char* kDeadLetterSubjectHeader = "Sprout-Source-Subject";

struct NatsTriggerTiming {
  // The consumer's AckWait: how long after the last sign of life of a
  // delivery (its fetch, or an in-progress mark) JetStream redelivers it.
  // This is how long messages in flight at a crash wait before they come
  // back.
  std::chrono::milliseconds ack_wait{30000};
  // The longest one fetch blocks: stop() waits at most about this long.
  std::chrono::milliseconds fetch_poll{250};
  // A failed message's redelivery delay: retry_min * 2^(deliveries-1),
  // at most retry_max.
  std::chrono::milliseconds retry_min{1000};
  std::chrono::milliseconds retry_max{300000};
  // Between attempts to (re)connect and recreate the consumer: doubling
  // from reconnect_min to reconnect_max.
  std::chrono::milliseconds reconnect_min{250};
  std::chrono::milliseconds reconnect_max{10000};
  // The broker's answer to one call (connect, consumer, publish, flush).
  std::chrono::milliseconds broker_timeout{5000};
};

// The consumer a trigger definition (normalized) asks for.
ConsumerSpec consumer_spec_of(const api::Trigger& trigger, std::chrono::milliseconds ack_wait);

// The redelivery delay of a message that failed on its `deliveries`-th
// delivery.
std::chrono::milliseconds retry_delay(const NatsTriggerTiming& timing, uint64_t deliveries);

class NatsTrigger {
 public:
  // `trigger`: a normalized definition (trigger_config.h). `invoker`
  // outlives the trigger.
  NatsTrigger(api::Trigger trigger, Invoker& invoker, NatsTriggerTiming timing);
  // Stops.
  ~NatsTrigger();
  NatsTrigger(const NatsTrigger&) = delete;
  NatsTrigger& operator=(const NatsTrigger&) = delete;

  void start();
  // Returns within about fetch_poll (or the broker's answer to a call in
  // progress). A batch still waiting for its invocation is abandoned
  // unsettled (JetStream redelivers it after AckWait; its late answer is
  // ignored); fetched messages not yet handed over are given back at once.
  void stop();
  // stop() without waiting for the thread: lets many triggers stop at once.
  void request_stop();

  const api::Trigger& definition() const { return trigger_; }
  // "active"; "connecting: <what failed>"; "stopped".
  std::string state() const;
  // Messages handed to the function since start (redeliveries included).
  uint64_t delivered() const;

 private:
  struct Wakeup;
  struct Delivery;

  void run();
  // One connection: connects, ensures the consumer and delivers batches
  // until stopping (nullopt) or a failure (returned); `served`: it got as
  // far as delivering.
  std::optional<Error> serve(const ConsumerSpec& spec, bool& served);
  // Fetches one batch: as soon as one message is there with no window,
  // else until the batch is full or batch_window_ms after its first
  // message. Empty: nothing came, or stopping.
  Result<std::vector<NatsMessage>> collect_batch(PullSubscription& subscription);
  void deliver(JetStreamSession& session, std::vector<NatsMessage> messages);
  // Waits for the answer to call `call`, marking `messages` in progress;
  // nullopt when stopping.
  std::optional<api::InvokeResponse> await_answer(uint64_t call,
                                                  const std::vector<Delivery>& deliveries);
  void settle(JetStreamSession& session, const std::vector<Delivery>& deliveries,
              const api::InvokeResponse& answer);
  Result<void> dead_letter(JetStreamSession& session, const Delivery& delivery,
                           const std::string& reason);
  void give_back(const std::vector<NatsMessage>& messages);
  void set_state(std::string state);
  bool stopping() const;
  // Sleeps `delay` unless stop() comes first; false when stopping.
  bool pause(std::chrono::milliseconds delay);

  const api::Trigger trigger_;
  Invoker& invoker_;
  const NatsTriggerTiming timing_;
  // Shared with the invocation's answer callback, which may come after the
  // trigger is gone.
  std::shared_ptr<Wakeup> wakeup_;

  mutable std::mutex mutex_;
  std::string state_ = "stopped";
  uint64_t delivered_ = 0;
  std::thread thread_;

  // Worker thread only: when each message (by stream sequence) was first
  // received by this process, for ApproximateFirstReceiveTimestamp.
  std::map<uint64_t, int64_t> first_received_ms_;
};

}  // namespace sprout::events
