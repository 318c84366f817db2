#include "supervisor/event_service.h"

#include <algorithm>
#include <filesystem>
#include <set>

#include "base/log.h"
#include "events/async/async_queue.h"
#include "events/file/file_triggers.h"
#include "events/history/history_entry.h"
#include "events/history/invocation_history.h"
#include "events/nats/nats_triggers.h"
#include "events/schedule/schedule_runner.h"
#include "http/function_name.h"

namespace sprout::supervisor {
namespace {

api::Response error_answer(api::Status status, const std::string& error) {
  api::Response response;
  response.set_status(status);
  response.set_error(error);
  return response;
}

api::Response ok_answer() {
  api::Response response;
  response.set_status(api::OK);
  return response;
}

// Event sources' records name this region and account, as the HTTP front
// door's ARNs do.
constexpr const char* kRegion = "us-east-1";

// Whether `inner` is `outer` or lies beneath it (both canonical).
bool is_within(const std::filesystem::path& inner, const std::filesystem::path& outer) {
  return std::mismatch(outer.begin(), outer.end(), inner.begin(), inner.end()).first ==
         outer.end();
}

std::filesystem::path canonical_or_same(const std::string& path) {
  std::error_code ignored;
  auto canonical = std::filesystem::weakly_canonical(path, ignored);
  return canonical.empty() ? std::filesystem::path(path) : canonical;
}

}  // namespace

Result<std::shared_ptr<EventService>> EventService::open(const DaemonConfig& config,
                                                         FunctionManager& manager) {
  std::shared_ptr<EventService> service(new EventService(config, manager));
  if (auto opened = service->open_parts(); !opened) return std::unexpected(opened.error());
  // The manager tells the service of every invocation and deletion. The
  // observers hold the service, so that an invocation answering while
  // sproutd stops still finds its parts (stopped: they ignore it).
  manager.set_observers({
      .invoked =
          [service](const std::string& function, const api::InvokeResponse& response,
                    const InvocationOrigin& origin, int64_t started_unix_ms) {
            service->history_->record(
                function, events::history_entry_of(response, {.source = origin.source,
                                                              .source_id = origin.source_id,
                                                              .attempt = origin.attempt,
                                                              .start_unix_ms = started_unix_ms}));
          },
      .removed = [service](const std::string& function) { service->function_removed(function); },
      .event_gauges =
          [service] {
            return std::pair<uint32_t, uint32_t>(
                static_cast<uint32_t>(service->queue_->queued()), service->queue_->waiting());
          },
  });
  return service;
}

EventService::EventService(const DaemonConfig& config, FunctionManager& manager)
    : config_(config),
      manager_(manager),
      database_path_(config.state_dir() + "/events.db"),
      threads_(std::make_unique<ThreadPool>(1, 8)) {}

EventService::~EventService() { stop(); }

Result<void> EventService::open_parts() {
  auto history = events::InvocationHistory::open(
      database_path_, {.max_per_function = config_.history_per_function()});
  if (!history) return std::unexpected(history.error());
  history_ = std::move(*history);

  auto queue = events::async::AsyncQueue::open(
      {.database_path = database_path_,
       .retry_base_delay_ms = config_.async_retry_base_ms(),
       .max_queued = config_.async_max_queued(),
       .max_in_flight = config_.async_max_in_flight(),
       .kept_results = config_.async_results_kept()},
      *this);
  if (!queue) return std::unexpected(queue.error());
  queue_ = std::move(*queue);

  auto exists = [this](const std::string& function) {
    return manager_.async_config(function).has_value();
  };
  auto schedules = events::ScheduleRunner::open(
      {.database_path = database_path_,
       .origin = {.region = kRegion, .account = std::string(http::kAccountId)},
       .function_exists = exists},
      *queue_);
  if (!schedules) return std::unexpected(schedules.error());
  schedules_ = std::move(*schedules);

  events::FileTriggers::Options file_options;
  file_options.database_path = database_path_;
  file_options.trigger.region = kRegion;
  auto files = events::FileTriggers::open(
      std::move(file_options), *queue_,
      {.function_exists = exists,
       .mounts_changed = [this](const std::string& function) { mounts_changed(function); }});
  if (!files) return std::unexpected(files.error());
  file_triggers_ = std::move(*files);
  // Before any snapshot loads: a function's sandboxes see its watched
  // directories from its first invocation after a restart.
  std::set<std::string> watched;
  for (const auto& trigger : file_triggers_->list("")) watched.insert(trigger.function());
  for (const auto& function : watched) mounts_changed(function);

  auto nats = events::NatsTriggers::open(*this, {.database_path = database_path_,
                                                 .function_exists = exists});
  if (!nats) return std::unexpected(nats.error());
  nats_triggers_ = std::move(*nats);
  return {};
}

void EventService::start() {
  queue_->start();
  schedules_->start();
  file_triggers_->start();
  nats_triggers_->start();
  log_line(LogLevel::kInfo, "events: " + std::to_string(queue_->queued()) +
                                " asynchronous event(s) queued; " +
                                std::to_string(schedules_->list("").size()) + " schedule(s), " +
                                std::to_string(file_triggers_->list("").size()) +
                                " file trigger(s), " +
                                std::to_string(nats_triggers_->list("").size()) +
                                " NATS trigger(s); in " + database_path_);
}

// The parts are checked: a service whose open failed half-way is destroyed
// with only some of them.
void EventService::stop_accepting() {
  // The sources stop feeding the queue. The queue still records the answers
  // of the attempts that finish during the drain (each recorded answer is
  // one run fewer after the restart); the new attempts it starts meanwhile
  // are refused UNAVAILABLE by the draining manager, which costs no retry.
  std::lock_guard lock(stop_mutex_);
  if (stopped_) return;
  if (schedules_) schedules_->stop();
  if (file_triggers_) file_triggers_->stop();
  if (nats_triggers_) nats_triggers_->stop();
}

void EventService::cancel_calls() {
  // The drain is over: the manager kills the attempts still running next.
  // Their answers are ignored, so their events run again after the
  // restart, the kill costing them no attempt.
  std::lock_guard lock(stop_mutex_);
  if (!stopped_ && queue_) queue_->stop();
}

void EventService::stop() {
  stop_accepting();
  cancel_calls();
  std::lock_guard lock(stop_mutex_);
  if (stopped_) return;
  stopped_ = true;
  threads_.reset();  // the API calls still queued run now, while the manager lives
  if (history_) history_->stop();
}

uint32_t EventService::queued_events() { return static_cast<uint32_t>(queue_->queued()); }

// --- events::Invoker -------------------------------------------------------

void EventService::invoke(const events::EventInvocation& call,
                          std::function<void(api::InvokeResponse)> done) {
  api::InvokeRequest request;
  request.set_function(call.function);
  request.set_payload(call.payload);
  manager_.invoke(
      request, manager_.event_cancellation(), std::chrono::steady_clock::now(),
      [done = std::move(done)](api::Response response) {
        api::InvokeResponse answer;
        if (response.has_invoke()) {
          answer = std::move(*response.mutable_invoke());  // moved: a result may be 6 MiB
        } else {  // refused before it ran
          answer.set_status(response.status());
          answer.set_detail(response.error());
        }
        done(std::move(answer));
      },
      {.source = call.source,
       .source_id = call.source_id,
       .request_id = call.request_id,
       .attempt = call.attempt});
}

std::optional<api::AsyncConfig> EventService::async_config(const std::string& function) {
  return manager_.async_config(function);
}

// --- the API's calls -------------------------------------------------------

void EventService::call(const std::shared_ptr<api::Request>& request,
                        const std::shared_ptr<CallCancellation>& cancellation,
                        const FunctionManager::Reply& reply) {
  // GetResult that waits holds no thread: answered here.
  if (request->call_case() == api::Request::kGetResult)
    return get_result(request->get_result(), cancellation, reply);
  threads_->post([this, request, reply] {
    switch (request->call_case()) {
      case api::Request::kInvokeAsync:
        return reply(submit(request->invoke_async()));
      case api::Request::kHistory:
        return reply(history(request->history()));
      case api::Request::kDeadLetters:
        return reply(dead_letters(request->dead_letters()));
      case api::Request::kRedrive:
        return reply(redrive(request->redrive()));
      case api::Request::kAddSchedule:
        return reply(add_schedule(request->add_schedule()));
      case api::Request::kListSchedules:
        return reply(list_schedules(request->list_schedules()));
      case api::Request::kRemoveSchedule:
        return reply(remove_schedule(request->remove_schedule()));
      case api::Request::kAddTrigger:
        return reply(add_trigger(request->add_trigger()));
      case api::Request::kListTriggers:
        return reply(list_triggers(request->list_triggers()));
      case api::Request::kRemoveTrigger:
        return reply(remove_trigger(request->remove_trigger()));
      default:
        return reply(error_answer(api::INVALID_ARGUMENT, "not an event call"));
    }
  });
}

api::Response EventService::submit(const api::InvokeRequest& request) {
  if (request.payload().size() > kMaxAsyncPayloadBytes) {
    return error_answer(api::PAYLOAD_TOO_LARGE,
                        "asynchronous payload of " + std::to_string(request.payload().size()) +
                            " bytes over the limit of 256 KiB");
  }
  events::Enqueued queued =
      queue_->enqueue({.function = request.function(), .payload = request.payload()});
  if (queued.status != api::OK) return error_answer(queued.status, queued.error);
  api::Response response = ok_answer();
  response.mutable_invoke_async()->set_invocation_id(queued.request_id);
  return response;
}

void EventService::get_result(const api::GetResultRequest& request,
                              const std::shared_ptr<CallCancellation>& cancellation,
                              const FunctionManager::Reply& reply) {
  auto answer = [reply](api::GetResultResponse result) {
    api::Response response = ok_answer();
    *response.mutable_get_result() = std::move(result);
    reply(std::move(response));
  };
  events::async::AsyncQueue::ResultWait wait;
  if (!queue_->result(request.invocation_id(), request.wait(), answer, &wait)) {
    return reply(error_answer(api::NOT_FOUND, "no invocation '" + request.invocation_id() + "'"));
  }
  // A client that leaves stops waiting: nothing of it stays behind.
  if (cancellation) cancellation->on_cancel([wait] { wait.withdraw(); });
}

api::Response EventService::history(const api::HistoryRequest& request) {
  if (!manager_.async_config(request.function()))
    return error_answer(api::NOT_FOUND, "function '" + request.function() + "' not found");
  auto entries = history_->list(request.function(), request.limit());
  if (!entries) return error_answer(api::INTERNAL, entries.error().message());
  api::Response response = ok_answer();
  auto* out = response.mutable_history();
  for (auto& entry : *entries) *out->add_entries() = std::move(entry);
  return response;
}

api::Response EventService::dead_letters(const api::DeadLettersRequest& request) {
  if (!manager_.async_config(request.function()))
    return error_answer(api::NOT_FOUND, "function '" + request.function() + "' not found");
  auto letters = queue_->dead_letters(request.function(), request.limit());
  if (!letters) return error_answer(api::INTERNAL, letters.error().message());
  api::Response response = ok_answer();
  auto* out = response.mutable_dead_letters();
  for (auto& letter : *letters) *out->add_events() = std::move(letter);
  return response;
}

api::Response EventService::redrive(const api::RedriveRequest& request) {
  if (!manager_.async_config(request.function()))
    return error_answer(api::NOT_FOUND, "function '" + request.function() + "' not found");
  auto moved = queue_->redrive(request.function(),
                               {request.request_ids().begin(), request.request_ids().end()});
  if (!moved) return error_answer(api::INTERNAL, moved.error().message());
  api::Response response = ok_answer();
  response.mutable_redrive()->set_requeued(*moved);
  return response;
}

api::Response EventService::add_schedule(const api::AddScheduleRequest& request) {
  events::ScheduleAnswer added = schedules_->add(request.schedule());
  if (added.status != api::OK) return error_answer(added.status, added.error);
  api::Response response = ok_answer();
  *response.mutable_add_schedule()->mutable_schedule() = std::move(added.schedule);
  return response;
}

api::Response EventService::list_schedules(const api::ListSchedulesRequest& request) {
  api::Response response = ok_answer();
  auto* out = response.mutable_list_schedules();
  for (auto& schedule : schedules_->list(request.function()))
    *out->add_schedules() = std::move(schedule);
  return response;
}

api::Response EventService::remove_schedule(const api::RemoveScheduleRequest& request) {
  auto removed = schedules_->remove(request.id());
  if (!removed) return error_answer(api::INTERNAL, removed.error().message());
  if (!*removed) return error_answer(api::NOT_FOUND, "no schedule '" + request.id() + "'");
  api::Response response = ok_answer();
  response.mutable_remove_schedule();
  return response;
}

api::Response EventService::add_trigger(const api::AddTriggerRequest& request) {
  const api::Trigger& trigger = request.trigger();
  if (!trigger.id().empty() &&
      (file_triggers_->contains(trigger.id()) ||
       [&] {
         for (const auto& nats : nats_triggers_->list(""))
           if (nats.id() == trigger.id()) return true;
         return false;
       }()))
    return error_answer(api::INVALID_ARGUMENT, "trigger id '" + trigger.id() + "' is taken");
  api::Response response = ok_answer();
  switch (trigger.kind_case()) {
    case api::Trigger::kFile: {
      if (std::string refused = refuse_watch_dir(trigger.file().watch_dir()); !refused.empty())
        return error_answer(api::INVALID_ARGUMENT, refused);
      auto added = file_triggers_->add(trigger);
      if (!added) return error_answer(added.error().status, added.error().message);
      *response.mutable_add_trigger()->mutable_trigger() = std::move(*added);
      return response;
    }
    case api::Trigger::kNats: {
      api::Status refusal = api::INTERNAL;
      auto added = nats_triggers_->add(trigger, &refusal);
      if (!added) return error_answer(refusal, added.error().message());
      *response.mutable_add_trigger()->mutable_trigger() = std::move(*added);
      return response;
    }
    default:
      return error_answer(api::INVALID_ARGUMENT, "a trigger needs a kind: file or nats");
  }
}

api::Response EventService::list_triggers(const api::ListTriggersRequest& request) {
  std::vector<api::Trigger> all = file_triggers_->list(request.function());
  for (auto& trigger : nats_triggers_->list(request.function())) all.push_back(std::move(trigger));
  std::sort(all.begin(), all.end(),
            [](const api::Trigger& a, const api::Trigger& b) { return a.id() < b.id(); });
  api::Response response = ok_answer();
  auto* out = response.mutable_list_triggers();
  for (auto& trigger : all) *out->add_triggers() = std::move(trigger);
  return response;
}

api::Response EventService::remove_trigger(const api::RemoveTriggerRequest& request) {
  api::Response response = ok_answer();
  response.mutable_remove_trigger();
  if (file_triggers_->contains(request.id())) {
    auto removed = file_triggers_->remove(request.id());
    if (!removed) return error_answer(removed.error().status, removed.error().message);
    return response;
  }
  auto removed = nats_triggers_->remove(request.id());
  if (!removed) return error_answer(api::INTERNAL, removed.error().message());
  if (!*removed) return error_answer(api::NOT_FOUND, "no trigger '" + request.id() + "'");
  return response;
}

std::string EventService::refuse_watch_dir(const std::string& watch_dir) const {
  // What the function could read through its mount must not be sproutd's
  // own: the state directory holds every tenant's code.
  const std::filesystem::path dir = canonical_or_same(watch_dir);
  for (const std::string& own :
       {config_.state_dir(), std::filesystem::path(config_.socket_path()).parent_path().string()}) {
    const std::filesystem::path owned = canonical_or_same(own);
    // Either way: a watched ancestor exposes sproutd's directory too.
    if (is_within(dir, owned) || is_within(owned, dir))
      return "--watch " + watch_dir + ": holds or lies within sproutd's own " + owned.string();
  }
  if (config_.file_trigger_roots().empty()) return {};
  for (const std::string& allowed : config_.file_trigger_roots())
    if (is_within(dir, canonical_or_same(allowed))) return {};
  return "--watch " + watch_dir + ": not under any of sproutd's file_trigger_roots";
}

// --- what the manager and the sources tell us -------------------------------

void EventService::mounts_changed(const std::string& function) {
  std::vector<ReadOnlyMount> mounts;
  for (const auto& mount : file_triggers_->mounts_of(function))
    mounts.push_back({.host_dir = mount.host_dir, .name = mount.bucket});
  manager_.set_read_only_mounts(function, std::move(mounts));
}

void EventService::function_removed(const std::string& function) {
  // Each part says what failed; the others still forget the function.
  auto report = [&function](const std::string& what, const Error& error) {
    log_line(LogLevel::kWarning,
             "deleting " + function + ": could not drop its " + what + ": " + error.message());
  };
  if (auto r = schedules_->remove_function(function); !r) report("schedules", r.error());
  if (auto r = file_triggers_->remove_function(function); !r) report("file triggers", r.error());
  if (auto r = nats_triggers_->remove_function(function); !r) report("NATS triggers", r.error());
  if (auto r = queue_->forget_function(function); !r) report("queued events", r.error());
  if (auto r = history_->forget(function); !r) report("history", r.error());
}

}  // namespace sprout::supervisor
