// One connection to a NATS server with its JetStream context, owned (the C
// client's objects freed in the right order), and the few JetStream calls a
// queue trigger makes, with the client's errors turned into sprout Errors.
// A session is used by one thread at a time.
#pragma once

#include <nats/nats.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/errors.h"

namespace sprout::events {

struct NatsMessageDeleter {
  void operator()(natsMsg* message) const { natsMsg_Destroy(message); }
};
using NatsMessage = std::unique_ptr<natsMsg, NatsMessageDeleter>;

// The durable pull consumer of a trigger.
struct ConsumerSpec {
  std::string stream;
  std::string durable;
  std::string filter_subject;
  std::chrono::milliseconds ack_wait{30000};
};

class PullSubscription;

class JetStreamSession {
 public:
  // Connects to `url` (nats://host:port) within `timeout`. Once connected,
  // the client reconnects by itself after a drop, for ever.
  static Result<std::unique_ptr<JetStreamSession>> connect(const std::string& url,
                                                           std::chrono::milliseconds timeout);
  ~JetStreamSession();
  JetStreamSession(const JetStreamSession&) = delete;
  JetStreamSession& operator=(const JetStreamSession&) = delete;

  // Creates the durable consumer (explicit acks, every message of the
  // stream from its first, no delivery limit: sprout counts deliveries
  // itself), or updates one that exists with other settings. Fails with a
  // clear error when the stream does not exist or does not hold the subject.
  Result<void> ensure_consumer(const ConsumerSpec& spec);
  // false: there was no such consumer (or no such stream).
  Result<bool> delete_consumer(const std::string& stream, const std::string& durable);
  // Binds to the consumer ensure_consumer made.
  Result<std::unique_ptr<PullSubscription>> subscribe(const ConsumerSpec& spec);

  // Publishes and waits for the stream's acknowledgement when a stream holds
  // `message`'s subject; when none does, publishes it plainly and flushes
  // (nothing keeps it then but the subscribers of the moment). `message_id`
  // lets JetStream drop a second copy of a retried publish.
  Result<void> publish(natsMsg* message, const std::string& message_id);
  // Whether some stream stores messages published on `subject`.
  Result<bool> stream_holds(const std::string& subject);
  // Waits until the server has read everything sent so far (acks included).
  Result<void> flush(std::chrono::milliseconds timeout);

  // false while the client is reconnecting after a drop.
  bool connected() const;

 private:
  JetStreamSession(natsConnection* connection, jsCtx* context, std::chrono::milliseconds timeout)
      : connection_(connection), context_(context), timeout_(timeout) {}
  natsConnection* connection_;
  jsCtx* context_;
  std::chrono::milliseconds timeout_;
};

class PullSubscription {
 public:
  explicit PullSubscription(natsSubscription* subscription) : subscription_(subscription) {}
  // Destroys the client's subscription only: the durable consumer stays.
  ~PullSubscription();
  PullSubscription(const PullSubscription&) = delete;
  PullSubscription& operator=(const PullSubscription&) = delete;

  // Up to `batch` messages, waiting at most `timeout` for the first; an
  // empty list when none came in time.
  Result<std::vector<NatsMessage>> fetch(int batch, std::chrono::milliseconds timeout);

 private:
  natsSubscription* subscription_;
};

// "<step>: <status text> (<the client's last error>)", with the JetStream
// error code when there is one; code kTimeout when the broker did not answer
// in time.
std::unexpected<Error> nats_error(std::string step, natsStatus status, jsErrCode code = static_cast<jsErrCode>(0));

}  // namespace sprout::events
