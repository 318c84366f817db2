// sproutd's event side (docs/events.md), wired to the FunctionManager: the
// durable async queue (InvokeAsync, HTTP Event, schedules, file triggers),
// the invocation history, schedules, file triggers and NATS JetStream
// triggers, all kept in <state_dir>/events.db.
//
// The parts (events/) know nothing of FunctionManager: this class is their
// Invoker (each attempt runs through FunctionManager::invoke with its origin,
// so that the history records it like any invocation) and answers the API's
// event calls. Their calls that touch the disk (an accepted event is fsynced
// before it is acknowledged) run on the service's own threads, never on
// Asio's.
//
// Order: open() after the FunctionManager restored its functions, start()
// once the server is about to serve; the drain stops every source at its
// start and the queue at its end, just before the invocations still running
// are killed with the manager's other event invocations. What was accepted
// and not finished stays on disk and runs after the restart.
#pragma once

#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"
#include "events/event_sink.h"
#include "supervisor/call_cancellation.h"
#include "supervisor/function_manager.h"
#include "supervisor/proto/daemon_config.pb.h"
#include "supervisor/server.h"
#include "supervisor/thread_pool.h"

namespace sprout::events {
namespace async {
class AsyncQueue;
}
class InvocationHistory;
class ScheduleRunner;
class FileTriggers;
class NatsTriggers;
}  // namespace sprout::events

namespace sprout::supervisor {

// Largest asynchronous payload, as Lambda's (and the HTTP Event limit):
// events are kept on disk until they finish.
inline constexpr size_t kMaxAsyncPayloadBytes = 256 * 1024;

class EventService : public DrainParticipant, private events::Invoker {
 public:
  // Opens the event database and every part, and registers the service
  // with the manager (FunctionManager::set_observers), which then holds it:
  // it lives until the manager is gone, so that late answers of
  // invocations find it (stopped).
  static Result<std::shared_ptr<EventService>> open(const DaemonConfig& config,
                                                    FunctionManager& manager);
  ~EventService() override;

  // Starts the queue's dispatch and every source: events accepted before a
  // restart run now, missed schedules catch up, files that arrived while
  // sproutd was down are delivered.
  void start();

  // Answers one of the API's event calls (InvokeAsync, GetResult, History,
  // DeadLetters, Redrive, *Schedule, *Trigger): exactly once, from any
  // thread. `cancellation` withdraws a GetResult that waits.
  void call(const std::shared_ptr<api::Request>& request,
            const std::shared_ptr<CallCancellation>& cancellation,
            const FunctionManager::Reply& reply);
  // InvokeAsync and HTTP Event: the event persisted (blocking: call it off
  // the Asio threads), answered with its id, or why it was refused.
  api::Response submit(const api::InvokeRequest& request);

  // Events accepted and not finished; GetResult calls waiting.
  uint32_t queued_events();

  // Stops every source, the queue's dispatch and the service's threads,
  // and writes the history's buffer. After the server stopped, before the
  // manager goes. Idempotent.
  void stop();

  // DrainParticipant: the drain's start stops the sources; its end stops
  // the queue (before the manager kills the attempts still running).
  void stop_accepting() override;
  void cancel_calls() override;
  void close_connections() override {}

 private:
  EventService(const DaemonConfig& config, FunctionManager& manager);
  Result<void> open_parts();

  // events::Invoker, over FunctionManager::invoke.
  void invoke(const events::EventInvocation& call,
              std::function<void(api::InvokeResponse)> done) override;
  std::optional<api::AsyncConfig> async_config(const std::string& function) override;

  // Calls answered on the service's threads.
  api::Response history(const api::HistoryRequest& request);
  api::Response dead_letters(const api::DeadLettersRequest& request);
  api::Response redrive(const api::RedriveRequest& request);
  api::Response add_schedule(const api::AddScheduleRequest& request);
  api::Response list_schedules(const api::ListSchedulesRequest& request);
  api::Response remove_schedule(const api::RemoveScheduleRequest& request);
  api::Response add_trigger(const api::AddTriggerRequest& request);
  api::Response list_triggers(const api::ListTriggersRequest& request);
  api::Response remove_trigger(const api::RemoveTriggerRequest& request);
  void get_result(const api::GetResultRequest& request,
                  const std::shared_ptr<CallCancellation>& cancellation,
                  const FunctionManager::Reply& reply);

  // Why a file trigger may not watch `watch_dir` (sproutd's own
  // directories, or outside file_trigger_roots); empty when it may.
  std::string refuse_watch_dir(const std::string& watch_dir) const;
  // A function's file triggers changed: its snapshot is rebuilt with the
  // new read-only mounts.
  void mounts_changed(const std::string& function);
  // A function was deleted: its events, schedules, triggers and history go.
  void function_removed(const std::string& function);

  const DaemonConfig& config_;
  FunctionManager& manager_;
  const std::string database_path_;
  std::unique_ptr<events::InvocationHistory> history_;
  std::unique_ptr<events::async::AsyncQueue> queue_;
  std::unique_ptr<events::ScheduleRunner> schedules_;
  std::unique_ptr<events::FileTriggers> file_triggers_;
  std::unique_ptr<events::NatsTriggers> nats_triggers_;
  std::mutex stop_mutex_;
  bool stopped_ = false;
  // The API's event calls that touch the disk; reset by stop(), which runs
  // what is queued while the manager still lives.
  std::unique_ptr<ThreadPool> threads_;
};

}  // namespace sprout::supervisor
