#include "bench/event_bench/nats_publisher.h"

namespace sprout::bench {
namespace {

std::unexpected<Error> nats_error(const std::string& step, natsStatus status) {
  const char* last = nats_GetLastError(nullptr);
  return plain_error(step, std::string(natsStatus_GetText(status)) +
                               (last != nullptr && *last != '\0' ? std::string(": ") + last : ""));
}

}  // namespace

Result<std::unique_ptr<NatsPublisher>> NatsPublisher::connect(const std::string& url) {
  std::unique_ptr<NatsPublisher> publisher(new NatsPublisher());
  if (natsStatus status = natsConnection_ConnectTo(&publisher->connection_, url.c_str());
      status != NATS_OK)
    return nats_error("connect to " + url, status);
  if (natsStatus status = natsConnection_JetStream(&publisher->jetstream_, publisher->connection_,
                                                   nullptr);
      status != NATS_OK)
    return nats_error("open JetStream context", status);
  return publisher;
}

NatsPublisher::~NatsPublisher() {
  if (jetstream_ != nullptr) jsCtx_Destroy(jetstream_);
  if (connection_ != nullptr) natsConnection_Destroy(connection_);
}

Result<void> NatsPublisher::add_stream(const std::string& stream, const std::string& subject) {
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = stream.c_str();
  const char* subjects[] = {subject.c_str()};
  config.Subjects = subjects;
  config.SubjectsLen = 1;
  config.Storage = js_FileStorage;
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_AddStream(&info, jetstream_, &config, nullptr, &code);
  if (info != nullptr) jsStreamInfo_Destroy(info);
  if (status != NATS_OK) return nats_error("add stream " + stream, status);
  return {};
}

Result<void> NatsPublisher::publish(const std::string& subject, const std::string& body) {
  jsPubAck* ack = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  natsStatus status = js_Publish(&ack, jetstream_, subject.c_str(), body.data(),
                                 static_cast<int>(body.size()), nullptr, &code);
  if (ack != nullptr) jsPubAck_Destroy(ack);
  if (status != NATS_OK) return nats_error("publish to " + subject, status);
  return {};
}

}  // namespace sprout::bench
