#include "tests/events/nats/nats_test_support.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "http/json.h"


namespace sprout::events::testing {
namespace {

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string server_binary() {
  return std::filesystem::exists("/usr/sbin/nats-server") ? "/usr/sbin/nats-server"
                                                          : "nats-server";
}

}  // namespace

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

NatsServer::NatsServer() {
  char dir[] = "/tmp/sprout-test-nats-XXXXXX";
  if (mkdtemp(dir) == nullptr) {
    ADD_FAILURE() << "mkdtemp failed";
    return;
  }
  dir_ = dir;
  spawn(-1);
}

NatsServer::~NatsServer() {
  kill();
  if (!dir_.empty()) std::filesystem::remove_all(dir_);
}

void NatsServer::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

void NatsServer::start() { spawn(port_); }

void NatsServer::spawn(int port) {
  static int spawned = 0;
  const std::string log = dir_ + "/server-" + std::to_string(++spawned) + ".log";
  const std::string binary = server_binary();
  const std::string port_text = std::to_string(port);
  const std::string store = dir_ + "/store";
  std::vector<std::string> args = {binary, "-js", "-a", "127.0.0.1", "-p", port_text,
                                   "-sd",  store, "-l", log};
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid = -1;
  const int failed = posix_spawnp(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (failed != 0) {
    ADD_FAILURE() << "cannot start nats-server: " << strerror(failed);
    return;
  }
  pid_ = pid;
  const std::string listening = "Listening for client connections on 127.0.0.1:";
  const bool ready = eventually([&] {
    const std::string text = read_file(log);
    const size_t at = text.find(listening);
    if (at == std::string::npos || text.find("Server is ready") == std::string::npos) return false;
    port_ = std::atoi(text.c_str() + at + listening.size());
    return true;
  });
  if (!ready) {
    ADD_FAILURE() << "nats-server did not come up: " << read_file(log);
    return;
  }
  url_ = "nats://127.0.0.1:" + std::to_string(port_);
}

NatsClient::NatsClient(const std::string& url) {
  natsStatus status = natsConnection_ConnectTo(&connection_, url.c_str());
  if (status == NATS_OK) status = natsConnection_JetStream(&context_, connection_, nullptr);
  EXPECT_EQ(status, NATS_OK) << "connect to " << url << ": " << natsStatus_GetText(status);
}

NatsClient::~NatsClient() {
  for (natsSubscription* subscription : subscriptions_) {
    natsSubscription_Unsubscribe(subscription);
    natsSubscription_Destroy(subscription);
  }
  jsCtx_Destroy(context_);
  natsConnection_Destroy(connection_);
}

void NatsClient::add_stream(const std::string& name, const std::vector<std::string>& subjects) {
  std::vector<const char*> subject_pointers;
  for (const std::string& subject : subjects) subject_pointers.push_back(subject.c_str());
  jsStreamConfig config;
  jsStreamConfig_Init(&config);
  config.Name = name.c_str();
  config.Subjects = subject_pointers.data();
  config.SubjectsLen = static_cast<int>(subject_pointers.size());
  config.Storage = js_FileStorage;
  jsStreamInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status = js_AddStream(&info, context_, &config, nullptr, &code);
  jsStreamInfo_Destroy(info);
  ASSERT_EQ(status, NATS_OK) << "add stream " << name << ": " << natsStatus_GetText(status)
                             << " " << code;
}

void NatsClient::publish(const std::string& subject, const std::string& data,
                         const std::vector<std::pair<std::string, std::string>>& headers) {
  natsMsg* message = nullptr;
  ASSERT_EQ(natsMsg_Create(&message, subject.c_str(), nullptr, data.data(),
                           static_cast<int>(data.size())),
            NATS_OK);
  for (const auto& [name, value] : headers) {
    ASSERT_EQ(natsMsgHeader_Add(message, name.c_str(), value.c_str()), NATS_OK);
  }
  jsPubAck* ack = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status = js_PublishMsg(&ack, context_, message, nullptr, &code);
  jsPubAck_Destroy(ack);
  natsMsg_Destroy(message);
  ASSERT_EQ(status, NATS_OK) << "publish to " << subject << ": " << natsStatus_GetText(status);
}

ConsumerState NatsClient::consumer(const std::string& stream, const std::string& durable) {
  jsConsumerInfo* info = nullptr;
  jsErrCode code = static_cast<jsErrCode>(0);
  const natsStatus status =
      js_GetConsumerInfo(&info, context_, stream.c_str(), durable.c_str(), nullptr, &code);
  ConsumerState state;
  if (status == NATS_OK) {
    state.exists = true;
    state.ack_pending = info->NumAckPending;
    state.redelivered = info->NumRedelivered;
    state.pending = info->NumPending;
    state.ack_wait_ms = info->Config->AckWait / 1000000;
  } else {
    EXPECT_EQ(code, JSConsumerNotFoundErr) << natsStatus_GetText(status);
  }
  jsConsumerInfo_Destroy(info);
  return state;
}

uint64_t NatsClient::stream_messages(const std::string& stream) {
  jsStreamInfo* info = nullptr;
  const natsStatus status = js_GetStreamInfo(&info, context_, stream.c_str(), nullptr, nullptr);
  EXPECT_EQ(status, NATS_OK) << natsStatus_GetText(status);
  const uint64_t count = status == NATS_OK ? info->State.Msgs : 0;
  jsStreamInfo_Destroy(info);
  return count;
}

void NatsClient::listen(const std::string& subject) {
  natsSubscription* subscription = nullptr;
  ASSERT_EQ(natsConnection_Subscribe(&subscription, connection_, subject.c_str(), &on_message,
                                     this),
            NATS_OK);
  subscriptions_.push_back(subscription);
  ASSERT_EQ(natsConnection_Flush(connection_), NATS_OK);
}

void NatsClient::on_message(natsConnection* /*connection*/, natsSubscription* /*subscription*/,
                            natsMsg* message, void* closure) {
  auto* self = static_cast<NatsClient*>(closure);
  ReceivedMessage received;
  received.subject = natsMsg_GetSubject(message);
  received.data.assign(natsMsg_GetData(message),
                       static_cast<size_t>(natsMsg_GetDataLength(message)));
  const char** keys = nullptr;
  int count = 0;
  if (natsMsgHeader_Keys(message, &keys, &count) == NATS_OK) {
    for (int i = 0; i < count; ++i) {
      const char* value = nullptr;
      if (natsMsgHeader_Get(message, keys[i], &value) == NATS_OK) {
        received.headers[keys[i]] = value != nullptr ? value : "";
      }
    }
    free(static_cast<void*>(keys));
  }
  natsMsg_Destroy(message);
  const std::lock_guard lock(self->mutex_);
  self->heard_.push_back(std::move(received));
}

std::vector<ReceivedMessage> NatsClient::heard() const {
  const std::lock_guard lock(mutex_);
  return heard_;
}

FakeInvoker::FakeInvoker() : script_([](const SeenCall&) { return ok_answer(); }) {}

void FakeInvoker::set_script(Script script) {
  const std::lock_guard lock(mutex_);
  script_ = std::move(script);
}

void FakeInvoker::invoke(const EventInvocation& call,
                         std::function<void(api::InvokeResponse)> done) {
  SeenCall seen{.call = call, .records = parse_sqs_event(call.payload)};
  std::optional<api::InvokeResponse> answer;
  {
    const std::lock_guard lock(mutex_);
    answer = script_(seen);
    calls_.push_back(seen);
    if (!answer) {
      held_.push_back(std::move(done));
      return;
    }
  }
  done(*answer);
}

std::optional<api::AsyncConfig> FakeInvoker::async_config(const std::string& /*function*/) {
  return api::AsyncConfig();
}

std::vector<SeenCall> FakeInvoker::calls() const {
  const std::lock_guard lock(mutex_);
  return calls_;
}

std::vector<SqsRecord> FakeInvoker::records() const {
  const std::lock_guard lock(mutex_);
  std::vector<SqsRecord> all;
  for (const SeenCall& call : calls_) all.insert(all.end(), call.records.begin(), call.records.end());
  return all;
}

size_t FakeInvoker::held() const {
  const std::lock_guard lock(mutex_);
  return held_.size();
}

void FakeInvoker::release_held(const api::InvokeResponse& answer) {
  std::vector<std::function<void(api::InvokeResponse)>> held;
  {
    const std::lock_guard lock(mutex_);
    held.swap(held_);
  }
  for (auto& done : held) done(answer);
}

std::vector<SqsRecord> parse_sqs_event(const std::string& json) {
  std::vector<SqsRecord> records;
  std::string error;
  const std::optional<http::JsonValue> event = http::parse_json(json, &error);
  EXPECT_TRUE(event.has_value()) << error << ": " << json;
  if (!event) return records;
  const http::JsonValue* list = event->find("Records");
  EXPECT_TRUE(list != nullptr && list->is_array()) << json;
  if (list == nullptr || !list->is_array()) return records;
  for (const http::JsonValue& item : list->items()) {
    SqsRecord record;
    const auto text = [&](const http::JsonValue& object, std::string_view key) {
      const http::JsonValue* value = object.find(key);
      EXPECT_TRUE(value != nullptr && value->is_string()) << key << " in " << json;
      return value != nullptr && value->is_string() ? value->as_string() : std::string();
    };
    record.message_id = text(item, "messageId");
    record.receipt_handle = text(item, "receiptHandle");
    record.body = text(item, "body");
    const http::JsonValue* attributes = item.find("attributes");
    EXPECT_TRUE(attributes != nullptr && attributes->is_object());
    if (attributes != nullptr) {
      record.receive_count = std::atoi(text(*attributes, "ApproximateReceiveCount").c_str());
    }
    const http::JsonValue* message_attributes = item.find("messageAttributes");
    EXPECT_TRUE(message_attributes != nullptr && message_attributes->is_object());
    if (message_attributes != nullptr) {
      for (const auto& [name, value] : message_attributes->members()) {
        record.attributes[name] = text(value, "stringValue");
      }
    }
    records.push_back(std::move(record));
  }
  return records;
}

api::InvokeResponse ok_answer(const std::string& result) {
  api::InvokeResponse answer;
  answer.set_status(api::OK);
  answer.set_result(result);
  return answer;
}

api::InvokeResponse failing_items(const std::vector<std::string>& message_ids) {
  std::string list = "[";
  for (size_t i = 0; i < message_ids.size(); ++i) {
    if (i > 0) list += ',';
    list += http::JsonObjectWriter().string("itemIdentifier", message_ids[i]).str();
  }
  list += ']';
  return ok_answer(http::JsonObjectWriter().raw("batchItemFailures", list).str());
}

}  // namespace sprout::events::testing
