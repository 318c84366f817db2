// An Invoker that the async queue's tests control: functions exist when
// deployed here, each call is recorded, answers follow a per-function
// script (then OK), and calls can be held in flight to be answered later
// (by the test, from its own thread, as sproutd answers from its workers).
#pragma once

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "events/event_sink.h"

namespace sprout::events::async {

class FakeInvoker : public Invoker {
 public:
  struct Held {
    EventInvocation call;
    std::function<void(api::InvokeResponse)> done;
  };

  void deploy(const std::string& function, api::AsyncConfig config = {}) {
    std::lock_guard lock(mutex_);
    functions_[function] = std::move(config);
  }
  void remove(const std::string& function) {
    std::lock_guard lock(mutex_);
    functions_.erase(function);
  }
  // The next answers for `function`, in order; after them: OK.
  void script(const std::string& function, std::vector<api::InvokeResponse> answers) {
    std::lock_guard lock(mutex_);
    for (auto& answer : answers) scripts_[function].push_back(std::move(answer));
  }
  void script_statuses(const std::string& function, const std::vector<api::Status>& statuses) {
    std::vector<api::InvokeResponse> answers;
    for (api::Status status : statuses) answers.push_back(answer(status));
    script(function, std::move(answers));
  }
  // While holding, calls wait in held() until the test answers them.
  void hold(bool on) {
    std::lock_guard lock(mutex_);
    holding_ = on;
  }
  std::vector<Held> take_held() {
    std::lock_guard lock(mutex_);
    std::vector<Held> held;
    held.swap(held_);
    return held;
  }
  size_t held_count() const {
    std::lock_guard lock(mutex_);
    return held_.size();
  }
  // The most calls held at once so far.
  size_t most_held() const {
    std::lock_guard lock(mutex_);
    return most_held_;
  }
  std::vector<EventInvocation> calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }
  std::vector<EventInvocation> calls_to(const std::string& function) const {
    std::vector<EventInvocation> matching;
    for (const EventInvocation& call : calls())
      if (call.function == function) matching.push_back(call);
    return matching;
  }
  size_t call_count() const {
    std::lock_guard lock(mutex_);
    return calls_.size();
  }

  static api::InvokeResponse answer(api::Status status) {
    api::InvokeResponse response;
    response.set_status(status);
    if (status == api::OK) {
      response.set_result(R"({"ok":true})");
    } else {
      response.set_detail(api::Status_Name(status) + " (scripted)");
    }
    return response;
  }

  void invoke(const EventInvocation& call,
              std::function<void(api::InvokeResponse)> done) override {
    api::InvokeResponse response;
    {
      std::lock_guard lock(mutex_);
      calls_.push_back(call);
      if (holding_) {
        held_.push_back({call, std::move(done)});
        most_held_ = std::max(most_held_, held_.size());
        return;
      }
      auto& script = scripts_[call.function];
      if (script.empty()) {
        response = answer(api::OK);
      } else {
        response = std::move(script.front());
        script.pop_front();
      }
    }
    response.set_request_id(call.request_id);
    done(std::move(response));
  }

  std::optional<api::AsyncConfig> async_config(const std::string& function) override {
    std::lock_guard lock(mutex_);
    auto it = functions_.find(function);
    if (it == functions_.end()) return std::nullopt;
    return it->second;
  }

 private:
  mutable std::mutex mutex_;
  std::map<std::string, api::AsyncConfig> functions_;
  std::map<std::string, std::deque<api::InvokeResponse>> scripts_;
  bool holding_ = false;
  std::vector<Held> held_;
  size_t most_held_ = 0;
  std::vector<EventInvocation> calls_;
};

}  // namespace sprout::events::async
