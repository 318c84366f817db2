// What the NATS trigger tests share: a real nats-server with JetStream on a
// loopback port of its own (in a private temp dir, killed and reaped at the
// end), a plain client that creates streams, publishes, reads consumer
// state and listens on subjects, and an Invoker the test scripts.
#pragma once

#include <nats/nats.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "api/proto/sprout_api.pb.h"
#include "events/event_sink.h"

namespace sprout::events::testing {

// Polls `condition` until it holds or `limit` passes.
bool eventually(const std::function<bool()>& condition,
                std::chrono::milliseconds limit = std::chrono::seconds(30));

class NatsServer {
 public:
  // Starts `nats-server -js` on 127.0.0.1 and a port the kernel picks (read
  // back from its log); fails the test when it does not come up.
  NatsServer();
  ~NatsServer();
  NatsServer(const NatsServer&) = delete;
  NatsServer& operator=(const NatsServer&) = delete;

  const std::string& url() const { return url_; }
  int port() const { return port_; }
  // SIGKILL and reap; start() again on the same port and store.
  void kill();
  void start();
  bool running() const { return pid_ > 0; }

 private:
  void spawn(int port);
  std::string dir_;
  pid_t pid_ = -1;
  int port_ = 0;
  std::string url_;
};

struct ReceivedMessage {
  std::string subject;
  std::string data;
  std::map<std::string, std::string> headers;  // the first value of each
};

struct ConsumerState {
  bool exists = false;
  int64_t ack_pending = 0;
  int64_t redelivered = 0;
  uint64_t pending = 0;       // not yet delivered
  int64_t ack_wait_ms = 0;
};

class NatsClient {
 public:
  explicit NatsClient(const std::string& url);
  ~NatsClient();
  NatsClient(const NatsClient&) = delete;
  NatsClient& operator=(const NatsClient&) = delete;

  void add_stream(const std::string& name, const std::vector<std::string>& subjects);
  // Published and stored by the stream (waits for its acknowledgement).
  void publish(const std::string& subject, const std::string& data,
               const std::vector<std::pair<std::string, std::string>>& headers = {});
  ConsumerState consumer(const std::string& stream, const std::string& durable);
  uint64_t stream_messages(const std::string& stream);
  // Collects every message on `subject` from now on.
  void listen(const std::string& subject);
  std::vector<ReceivedMessage> heard() const;

 private:
  static void on_message(natsConnection* connection, natsSubscription* subscription,
                         natsMsg* message, void* closure);
  natsConnection* connection_ = nullptr;
  jsCtx* context_ = nullptr;
  std::vector<natsSubscription*> subscriptions_;
  mutable std::mutex mutex_;
  std::vector<ReceivedMessage> heard_;
};

// One record of an SQS event, as a handler reads it.
struct SqsRecord {
  std::string message_id;
  std::string receipt_handle;
  std::string body;
  int receive_count = 0;
  std::map<std::string, std::string> attributes;          // stringValue of each
};

// An invocation the fake invoker saw.
struct SeenCall {
  EventInvocation call;
  std::vector<SqsRecord> records;
};

// Answers each call with what `script` returns; std::nullopt holds the call
// unanswered (until release_held()).
class FakeInvoker : public Invoker {
 public:
  using Script = std::function<std::optional<api::InvokeResponse>(const SeenCall&)>;
  FakeInvoker();
  void set_script(Script script);

  void invoke(const EventInvocation& call,
              std::function<void(api::InvokeResponse)> done) override;
  std::optional<api::AsyncConfig> async_config(const std::string& function) override;

  std::vector<SeenCall> calls() const;
  // Every record delivered so far, in order.
  std::vector<SqsRecord> records() const;
  size_t held() const;
  // Answers every held call with `answer`.
  void release_held(const api::InvokeResponse& answer);

 private:
  mutable std::mutex mutex_;
  Script script_;
  std::vector<SeenCall> calls_;
  std::vector<std::function<void(api::InvokeResponse)>> held_;
};

// Parses an SQS event (fails the test when it is not one).
std::vector<SqsRecord> parse_sqs_event(const std::string& json);

api::InvokeResponse ok_answer(const std::string& result = "null");
// {"batchItemFailures":[{"itemIdentifier": id}...]}
api::InvokeResponse failing_items(const std::vector<std::string>& message_ids);

}  // namespace sprout::events::testing
