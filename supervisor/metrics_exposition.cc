#include "supervisor/metrics_exposition.h"

#include <atomic>

#include "base/log.h"
#include "supervisor/function_manager.h"

namespace sprout::supervisor {
namespace {

void per_function(PrometheusText& out, const NodeMetrics& node) {
  const auto& functions = node.functions;
  out.family("sprout_invocations_total", MetricType::kCounter,
             "Invocations admitted and run, by function and status (OK, FUNCTION_ERROR, TIMEOUT, "
             "...), cumulative over the function's versions.");
  for (const auto& f : functions)
    for (const auto& [status, count] : f.counters.by_status)
      out.sample("sprout_invocations_total", {{"function", f.name}, {"status", status}}, count);

  out.family("sprout_throttles_total", MetricType::kCounter,
             "Invocations refused at admission (THROTTLED: queue full, or no slot in time).");
  for (const auto& f : functions)
    out.sample("sprout_throttles_total", {{"function", f.name}}, f.counters.throttles);

  out.family("sprout_invocation_duration_seconds", MetricType::kHistogram,
             "Invocation latency: phase=\"total\" from the request received to the answer ready "
             "(queue, fork, run), phase=\"run\" from the request delivered to the sandbox to its "
             "answer (Lambda's Duration).");
  for (const auto& f : functions) {
    out.histogram("sprout_invocation_duration_seconds", {{"function", f.name}, {"phase", "total"}},
                  f.counters.total_seconds);
    out.histogram("sprout_invocation_duration_seconds", {{"function", f.name}, {"phase", "run"}},
                  f.counters.run_seconds);
  }

  out.family("sprout_cold_starts_total", MetricType::kCounter,
             "Invocations whose sandbox was forked on the critical path.");
  for (const auto& f : functions)
    out.sample("sprout_cold_starts_total", {{"function", f.name}}, f.counters.cold_starts);

  out.family("sprout_prefork_hits_total", MetricType::kCounter,
             "Invocations served by a sandbox forked ahead of demand.");
  for (const auto& f : functions)
    out.sample("sprout_prefork_hits_total", {{"function", f.name}}, f.counters.prefork_hits);

  out.family("sprout_init_duration_seconds", MetricType::kHistogram,
             "Inits of the function's snapshots: at deploy as the snapshot measured it, on a "
             "reload as the invocation that waited for it measured it.");
  for (const auto& f : functions)
    out.histogram("sprout_init_duration_seconds", {{"function", f.name}}, f.counters.init_seconds);

  out.family("sprout_billed_seconds_total", MetricType::kCounter,
             "Billed Duration summed (whole milliseconds each, as Lambda bills), in seconds.");
  for (const auto& f : functions)
    out.sample("sprout_billed_seconds_total", {{"function", f.name}},
               static_cast<double>(f.counters.billed_ms) / 1e3);

  out.family("sprout_billed_memory_byte_seconds_total", MetricType::kCounter,
             "Memory size times Billed Duration, summed, in byte-seconds; divided by 2^30 it is "
             "Lambda's GB-seconds.");
  for (const auto& f : functions)
    out.sample("sprout_billed_memory_byte_seconds_total", {{"function", f.name}},
               static_cast<double>(f.counters.memory_mb_billed_ms) * 1048576.0 / 1e3);
}

void gauge(PrometheusText& out, const char* name, const char* help, uint64_t value) {
  out.family(name, MetricType::kGauge, help);
  out.sample(name, {}, value);
}

void node_wide(PrometheusText& out, const NodeMetrics& node) {
  gauge(out, "sprout_serving", "1 while sproutd accepts work, 0 while it drains.", node.serving ? 1 : 0);
  gauge(out, "sprout_functions", "Deployed functions.", node.functions.size());
  gauge(out, "sprout_live_sandboxes", "Sandboxes running an invocation (admitted invocations).",
        node.live_sandboxes);
  gauge(out, "sprout_idle_sandboxes", "Pre-forked sandboxes waiting for an invocation.",
        node.idle_sandboxes);
  gauge(out, "sprout_live_snapshots", "Function snapshots resident (current versions).",
        node.live_snapshots);
  gauge(out, "sprout_live_zygotes", "Runtime zygotes running, one per (tenant, runtime) in use.",
        node.live_zygotes);
  gauge(out, "sprout_host_ids_in_use", "Host uids/gids leased to zygotes and snapshots.",
        node.host_ids_in_use);
  gauge(out, "sprout_queued_invocations", "Invocations waiting in the queue for a slot.",
        node.queued_invocations);
  gauge(out, "sprout_result_waits", "GetResult(wait) calls waiting for their invocation.",
        node.result_waits);
  gauge(out, "sprout_queued_events",
        "Asynchronous events accepted (on disk) and not yet finished, retries included.",
        node.queued_events);
  out.family("sprout_admission_refusals_total", MetricType::kCounter,
             "Invocations refused at admission (THROTTLED), by reason.");
  out.sample("sprout_admission_refusals_total", {{"reason", "queue_full"}}, node.refused_queue_full);
  out.sample("sprout_admission_refusals_total", {{"reason", "queue_timeout"}},
             node.refused_queue_timeout);
  if (!node.connections.empty()) {
    out.family("sprout_connections", MetricType::kGauge, "Open client connections, by listener.");
    for (const auto& [listener, count] : node.connections)
      out.sample("sprout_connections", {{"listener", listener}}, uint64_t{count});
  }
}

// The names and help of Prometheus' client libraries, so that existing
// dashboards of process metrics work unchanged.
void process_wide(PrometheusText& out, const ProcessMetrics& process) {
  out.family("process_cpu_seconds_total", MetricType::kCounter,
             "Total user and system CPU time spent in seconds.");
  out.sample("process_cpu_seconds_total", {}, process.cpu_seconds);
  gauge(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
        process.resident_memory_bytes);
  gauge(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
        process.virtual_memory_bytes);
  gauge(out, "process_open_fds", "Number of open file descriptors.", process.open_fds);
  out.family("process_max_fds", MetricType::kGauge, "Maximum number of open file descriptors.");
  out.sample("process_max_fds", {}, process.max_fds);
  out.family("process_start_time_seconds", MetricType::kGauge,
             "Start time of the process since unix epoch in seconds.");
  out.sample("process_start_time_seconds", {}, process.start_time_seconds);
  gauge(out, "process_threads", "Number of OS threads in the process.", process.threads);
}

}  // namespace

std::string render_metrics_text(const NodeMetrics& node, const ProcessMetrics* process) {
  PrometheusText out;
  per_function(out, node);
  node_wide(out, node);
  if (process) process_wide(out, *process);
  return out.take();
}

std::string render_prometheus_metrics(FunctionManager& manager) {
  const NodeMetrics node = manager.metrics();
  auto process = read_process_metrics();
  static std::atomic<bool> said{false};
  // Said once: the sprout metrics are still served, and a scraper asks
  // every few seconds.
  if (!process && !said.exchange(true))
    log_line(LogLevel::kWarning, "metrics: process metrics left out: " + process.error().message());
  return render_metrics_text(node, process ? &*process : nullptr);
}

}  // namespace sprout::supervisor
