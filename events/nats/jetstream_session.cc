#include "events/nats/jetstream_session.h"

#include <string_view>

#include "http/json.h"

namespace sprout::events {
namespace {

constexpr int64_t kNanosPerMilli = 1000000;
// How long the client waits between reconnection attempts to a lost server
// (plus up to a second of jitter, so that many triggers do not reconnect in
// step).
constexpr int64_t kReconnectWaitMs = 1000;
constexpr int64_t kReconnectJitterMs = 1000;
constexpr std::chrono::milliseconds kPlainPublishFlush{5000};

}  // namespace

std::unexpected<Error> nats_error(std::string step, natsStatus status, jsErrCode code) {
  std::string detail = natsStatus_GetText(status);
  natsStatus last_status = NATS_OK;
  const char* last = nats_GetLastError(&last_status);
  // The client's last error often repeats the status text after a source
  // location: only news is added.
  if (last != nullptr && last_status == status &&
      std::string_view(last).find(detail) == std::string_view::npos) {
    detail += " (";
    detail += last;
    detail += ")";
  }
  if (code != 0) detail += " [JetStream error " + std::to_string(static_cast<int>(code)) + "]";
  return plain_error(status == NATS_TIMEOUT ? ErrorCode::kTimeout : ErrorCode::kInternal,
                     std::move(step), std::move(detail));
}

Result<std::unique_ptr<JetStreamSession>> JetStreamSession::connect(
    const std::string& url, std::chrono::milliseconds timeout) {
  natsOptions* options = nullptr;
  natsStatus status = natsOptions_Create(&options);
  if (status != NATS_OK) return nats_error("create NATS options", status);
  status = natsOptions_SetURL(options, url.c_str());
  if (status == NATS_OK) status = natsOptions_SetTimeout(options, timeout.count());
  if (status == NATS_OK) status = natsOptions_SetName(options, "sproutd");
  if (status == NATS_OK) status = natsOptions_SetMaxReconnect(options, -1);
  if (status == NATS_OK) status = natsOptions_SetReconnectWait(options, kReconnectWaitMs);
  if (status == NATS_OK) {
    status = natsOptions_SetReconnectJitter(options, kReconnectJitterMs, kReconnectJitterMs);
  }
  natsConnection* connection = nullptr;
  if (status == NATS_OK) status = natsConnection_Connect(&connection, options);
  natsOptions_Destroy(options);  // the connection keeps a copy
  if (status != NATS_OK) return nats_error("connect to " + url, status);

  jsOptions js_options;
  jsOptions_Init(&js_options);
  js_options.Wait = timeout.count();
  jsCtx* context = nullptr;
  status = natsConnection_JetStream(&context, connection, &js_options);
  if (status != NATS_OK) {
    natsConnection_Destroy(connection);
    return nats_error("JetStream context on " + url, status);
  }
  return std::unique_ptr<JetStreamSession>(new JetStreamSession(connection, context, timeout));
}

JetStreamSession::~JetStreamSession() {
  jsCtx_Destroy(context_);
  natsConnection_Destroy(connection_);
}

Result<void> JetStreamSession::ensure_consumer(const ConsumerSpec& spec) {
  jsConsumerConfig config;
  jsConsumerConfig_Init(&config);
  config.Durable = spec.durable.c_str();
  config.AckPolicy = js_AckExplicit;
  config.DeliverPolicy = js_DeliverAll;
  config.AckWait = spec.ack_wait.count() * kNanosPerMilli;
  config.MaxDeliver = -1;
  config.FilterSubject = spec.filter_subject.c_str();

  const std::string step = "create consumer " + spec.durable + " on stream " + spec.stream;
  jsConsumerInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_AddConsumer(&info, context_, spec.stream.c_str(), &config, nullptr, &code);
  jsConsumerInfo_Destroy(info);
  if (status == NATS_OK) return {};
  if (code == JSStreamNotFoundErr) {
    return plain_error(step, "stream " + spec.stream + " does not exist");
  }
  const std::unexpected<Error> add_error = nats_error(step, status, code);
  // It may exist with other settings (an AckWait of an earlier run): those
  // that may change, change.
  info = nullptr;
  code = static_cast<jsErrCode>(0);
  status = js_UpdateConsumer(&info, context_, spec.stream.c_str(), &config, nullptr, &code);
  jsConsumerInfo_Destroy(info);
  if (status == NATS_OK) return {};
  if (code == JSConsumerNotFoundErr) return add_error;
  return nats_error("update consumer " + spec.durable + " on stream " + spec.stream, status, code);
}

Result<bool> JetStreamSession::delete_consumer(const std::string& stream,
                                               const std::string& durable) {
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status =
      js_DeleteConsumer(context_, stream.c_str(), durable.c_str(), nullptr, &code);
  if (status == NATS_OK) return true;
  if (code == JSConsumerNotFoundErr || code == JSStreamNotFoundErr) return false;
  return nats_error("delete consumer " + durable + " of stream " + stream, status, code);
}

Result<std::unique_ptr<PullSubscription>> JetStreamSession::subscribe(const ConsumerSpec& spec) {
  jsSubOptions options;
  jsSubOptions_Init(&options);
  options.Stream = spec.stream.c_str();
  options.Consumer = spec.durable.c_str();
  options.ManualAck = true;
  natsSubscription* subscription = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status = js_PullSubscribe(&subscription, context_, spec.filter_subject.c_str(),
                                             spec.durable.c_str(), nullptr, &options, &code);
  if (status != NATS_OK) {
    return nats_error("subscribe to consumer " + spec.durable + " of stream " + spec.stream,
                      status, code);
  }
  return std::make_unique<PullSubscription>(subscription);
}

Result<void> JetStreamSession::publish(natsMsg* message, const std::string& message_id) {
  jsPubOptions options;
  jsPubOptions_Init(&options);
  options.MsgId = message_id.c_str();
  const std::string subject = natsMsg_GetSubject(message);
  // Asked first, rather than read from a publish's "no responders": a
  // plain subscriber on the subject would take the publish for itself and
  // leave it unanswered.
  Result<bool> kept = stream_holds(subject);
  if (!kept) return std::unexpected(kept.error());
  if (*kept) {
    jsPubAck* ack = nullptr;
    jsErrCode code = static_cast<jsErrCode>(0);
    const natsStatus status = js_PublishMsg(&ack, context_, message, &options, &code);
    jsPubAck_Destroy(ack);
    if (status != NATS_OK) return nats_error("publish to " + subject, status, code);
    return {};
  }
  const natsStatus status = natsConnection_PublishMsg(connection_, message);
  if (status != NATS_OK) return nats_error("publish to " + subject, status);
  return flush(kPlainPublishFlush);
}

Result<bool> JetStreamSession::stream_holds(const std::string& subject) {
  const std::string request = http::JsonObjectWriter().string("subject", subject).str();
  natsMsg* reply = nullptr;
  const natsStatus status =
      natsConnection_Request(&reply, connection_, "$JS.API.STREAM.NAMES", request.data(),
                             static_cast<int>(request.size()), timeout_.count());
  if (status != NATS_OK) return nats_error("find the stream of " + subject, status);
  const NatsMessage owned(reply);
  const std::string_view text(natsMsg_GetData(reply),
                              static_cast<size_t>(natsMsg_GetDataLength(reply)));
  const std::optional<http::JsonValue> answer = http::parse_json(text);
  const http::JsonValue* streams = answer ? answer->find("streams") : nullptr;
  if (streams == nullptr || (!streams->is_null() && !streams->is_array())) {
    return plain_error("find the stream of " + subject,
                       "unexpected JetStream answer: " + std::string(text));
  }
  return streams->is_array() && !streams->items().empty();
}

Result<void> JetStreamSession::flush(std::chrono::milliseconds timeout) {
  const natsStatus status = natsConnection_FlushTimeout(connection_, timeout.count());
  if (status != NATS_OK) return nats_error("flush the NATS connection", status);
  return {};
}

bool JetStreamSession::connected() const {
  return natsConnection_Status(connection_) == NATS_CONN_STATUS_CONNECTED;
}

PullSubscription::~PullSubscription() { natsSubscription_Destroy(subscription_); }

Result<std::vector<NatsMessage>> PullSubscription::fetch(int batch,
                                                         std::chrono::milliseconds timeout) {
  natsMsgList list{};
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status =
      natsSubscription_Fetch(&list, subscription_, batch, timeout.count(), &code);
  std::vector<NatsMessage> messages;
  if (status == NATS_TIMEOUT) return messages;
  if (status != NATS_OK) return nats_error("fetch from the consumer", status, code);
  messages.reserve(static_cast<size_t>(list.Count));
  for (int i = 0; i < list.Count; ++i) {
    messages.emplace_back(list.Msgs[i]);
    list.Msgs[i] = nullptr;  // now ours; natsMsgList_Destroy frees only the array
  }
  natsMsgList_Destroy(&list);
  return messages;
}

}  // namespace sprout::events
