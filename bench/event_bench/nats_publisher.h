// A small JetStream publisher for sprout-event-bench, on libnats: creates
// the stream the trigger consumes and publishes messages to it, each
// acknowledged by the stream (stored) before the next.
#pragma once

#include <nats/nats.h>

#include <memory>
#include <string>

#include "base/errors.h"

namespace sprout::bench {

class NatsPublisher {
 public:
  static Result<std::unique_ptr<NatsPublisher>> connect(const std::string& url);
  ~NatsPublisher();
  NatsPublisher(const NatsPublisher&) = delete;
  NatsPublisher& operator=(const NatsPublisher&) = delete;

  // A file-backed stream named `stream` over `subject`.
  Result<void> add_stream(const std::string& stream, const std::string& subject);
  // Returns once the stream acknowledged the message.
  Result<void> publish(const std::string& subject, const std::string& body);

 private:
  NatsPublisher() = default;
  natsConnection* connection_ = nullptr;
  jsCtx* jetstream_ = nullptr;
};

}  // namespace sprout::bench
