#include "tests/events_e2e/event_daemon.h"

#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <stdexcept>
#include <thread>

namespace sprout::testing {

void EventDaemonTest::start_event_daemon(const std::string& extra_config) {
  const std::string config =
      write_temp_file("sproutd.conf", "async_retry_base_ms: 300\n" + extra_config + "\n");
  start_daemon({"--config", config});
}

void EventDaemonTest::kill_daemon() {
  if (daemon_ <= 0) return;
  ASSERT_EQ(kill(daemon_, SIGKILL), 0);
  ASSERT_EQ(waitpid(daemon_, nullptr, 0), daemon_);
  daemon_ = -1;
}

api::Response EventDaemonTest::call(api::Request request) {
  auto client = connect();
  auto response = client->call(std::move(request));
  if (!response) throw std::runtime_error("call: " + response.error().message);
  return std::move(*response);
}

std::string EventDaemonTest::submit(const std::string& function, const std::string& payload) {
  api::Request request;
  request.mutable_invoke_async()->set_function(function);
  request.mutable_invoke_async()->set_payload(payload);
  api::Response response = call(std::move(request));
  if (response.status() != api::OK)
    throw std::runtime_error("InvokeAsync " + function + ": " + response.error());
  return response.invoke_async().invocation_id();
}

api::GetResultResponse EventDaemonTest::wait_result(const std::string& invocation_id) {
  api::Request request;
  request.mutable_get_result()->set_invocation_id(invocation_id);
  request.mutable_get_result()->set_wait(true);
  api::Response response = call(std::move(request));
  if (response.status() != api::OK)
    throw std::runtime_error("GetResult " + invocation_id + ": " + response.error());
  return response.get_result();
}

std::vector<api::HistoryEntry> EventDaemonTest::history(const std::string& function,
                                                        uint32_t limit) {
  api::Request request;
  request.mutable_history()->set_function(function);
  request.mutable_history()->set_limit(limit);
  api::Response response = call(std::move(request));
  if (response.status() != api::OK)
    throw std::runtime_error("History " + function + ": " + response.error());
  return {response.history().entries().begin(), response.history().entries().end()};
}

std::vector<api::DeadLetter> EventDaemonTest::dead_letters(const std::string& function) {
  api::Request request;
  request.mutable_dead_letters()->set_function(function);
  api::Response response = call(std::move(request));
  if (response.status() != api::OK)
    throw std::runtime_error("DeadLetters " + function + ": " + response.error());
  return {response.dead_letters().events().begin(), response.dead_letters().events().end()};
}

Json EventDaemonTest::cli_json(std::vector<std::string> args) {
  args.push_back("--json");
  CommandResult result = sprout(args);
  if (result.exit_code != 0)
    throw std::runtime_error("sprout " + args[0] + " " + args[1] + " exited " +
                             std::to_string(result.exit_code) + ": " + result.out + result.err);
  auto json = Json::parse(result.out);
  if (!json) throw std::runtime_error("not JSON: " + result.out);
  return *json;
}

std::vector<CommandResult> EventDaemonTest::expect_refused(
    const std::vector<std::string>& command, const std::vector<RefusedCall>& cases) {
  std::vector<CommandResult> results;
  for (const auto& c : cases) {
    std::vector<std::string> args = command;
    args.insert(args.end(), c.args.begin(), c.args.end());
    CommandResult result = sprout(args);
    std::string shown;
    for (const auto& a : c.args) shown += a + " ";
    EXPECT_EQ(result.exit_code, c.exit_code) << shown << ": " << result.out << result.err;
    EXPECT_NE(result.err.find(c.says), std::string::npos) << shown << ": " << result.err;
    results.push_back(std::move(result));
  }
  return results;
}

bool EventDaemonTest::eventually(const std::function<bool()>& condition,
                                 std::chrono::milliseconds deadline) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return condition();
}

}  // namespace sprout::testing
