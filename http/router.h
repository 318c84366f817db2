// Decides what one HTTP request of the front door is and answers it:
// SigV4 (or the loopback exemption) first, then /healthz, /metrics, the
// Lambda Invoke API, function URLs (/fn/{name}/...), and every other
// /2015-03-31/ route to the management helper (http/management/).
//
// Threads: route() is called on an Asio thread and never blocks there.
// FunctionManager calls that may block (get, the management calls, the
// metrics) run on thread pools; an invocation waits without a thread
// (FunctionManager::invoke answers through a callback). `respond` is
// called exactly once, from any thread.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "http/http_request.h"
#include "http/management/lambda_management.h"
#include "supervisor/call_cancellation.h"
#include "supervisor/event_service.h"
#include "supervisor/function_manager.h"
#include "supervisor/proto/daemon_config.pb.h"
#include "supervisor/thread_pool.h"

namespace sprout::http {

// Lambda's limit on an Event (asynchronous) invocation's payload.
inline constexpr size_t kMaxEventPayloadBytes = 256 * 1024;

class HttpRouter {
 public:
  using Respond = std::function<void(HttpAnswer)>;

  // `control_threads`: for management calls (deploys run inits: seconds).
  // `draining`: whether sproutd is shutting down (for /healthz).
  // `events`: where Event invocations are persisted.
  HttpRouter(const supervisor::DaemonConfig& config, supervisor::FunctionManager& manager,
             supervisor::EventService& events, supervisor::ThreadPool& control_threads,
             std::function<bool()> draining);

  // `cancellation` is cancelled when the client goes away: a running
  // invocation then has its sandbox killed.
  void route(const std::shared_ptr<const HttpRequest>& request,
             const std::shared_ptr<supervisor::CallCancellation>& cancellation,
             std::chrono::steady_clock::time_point received, Respond respond);

  // From the request's head alone: the 403 for a peer that must sign and
  // sent no Authorization at all, before its body is read.
  std::optional<HttpAnswer> refuse_unsigned(bool peer_loopback, bool has_authorization) const;

 private:
  // nullopt when the request may go on; else the 403. `region` is the
  // signature's region when it was signed.
  std::optional<HttpAnswer> authorize(const HttpRequest& request, std::string* region) const;
  void invoke(const std::shared_ptr<const HttpRequest>& request,
              const std::string& function_segment, const std::string& region,
              const std::shared_ptr<supervisor::CallCancellation>& cancellation,
              std::chrono::steady_clock::time_point received, const Respond& respond);
  void function_url(const std::shared_ptr<const HttpRequest>& request, const std::string& name,
                    const std::string& rest_path, const std::string& request_id,
                    const std::shared_ptr<supervisor::CallCancellation>& cancellation,
                    std::chrono::steady_clock::time_point received, const Respond& respond);

  const supervisor::DaemonConfig& config_;
  supervisor::FunctionManager& manager_;
  supervisor::EventService& events_;
  supervisor::ThreadPool& control_threads_;
  std::function<bool()> draining_;
  std::map<std::string, std::string> credentials_;  // access key id -> secret
  // Quick calls that may still block (FunctionManager::get, the metrics):
  // off the Asio threads, apart from the deploys of the control threads.
  supervisor::ThreadPool lookup_threads_{1, 16};
};

}  // namespace sprout::http
