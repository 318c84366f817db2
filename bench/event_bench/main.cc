// sprout-event-bench: how fast each event source of sprout delivers, side by
// side in one run: asynchronous invocations (InvokeAsync on the socket), a
// rate(1 second) schedule, a file trigger and a NATS JetStream trigger.
//
//   sprout-event-bench [--sources async,schedule,file,nats] [--events N] [--async N]
//                      [--files N] [--messages N] [--paced N] [--pace-ms MS] [--fires N]
//                      [--concurrency C] [--batch B]
//
// It starts its own sproutd (private socket and state directory under
// /tmp) and nats-server, deploys one python3 function per source whose
// handler returns its event with the time it started, and for each source
// measures, from the moment the event happened (async: submit; schedule: the
// EventBridge event's scheduled `time`; file: close() of the file; NATS: the
// publish, acknowledged by the stream):
//   dispatch: until sproutd started the invocation (the history's
//             start_unix_ms, before a sandbox is forked);
//   handler:  until the handler's first line ran (time.time() in the
//             sandbox, returned in its result);
// in two phases: "paced" (one event every --pace-ms: latency without a
// backlog) and "burst" (all events at once: throughput, events delivered
// per second from the first event to the end of the last invocation, and
// the latency a backlog adds). Async also reports the enqueue latency seen
// by the client (the answer comes after the event is fsynced).
// Outcomes are read back from the invocation history (at most 1000 entries
// per function, hence at most 900 events per source and phase).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/event_bench/child_processes.h"
#include "bench/event_bench/nats_publisher.h"
#include "bench/sprout_bench/machine_probes.h"
#include "sprout/client.h"

namespace sprout::bench {
namespace {

using Clock = std::chrono::steady_clock;

// Returns its event, after the time its first line ran and the ids of the
// events it carries (async: "id"; schedule: "time"; S3: object keys; SQS:
// bodies), first so that the history's 1 KiB cut of the result keeps them.
constexpr const char* kHandler = R"PY(import time

def handler(event, context):
    started_ms = time.time() * 1000.0
    if "Records" in event:
        ids = [r["s3"]["object"]["key"] if "s3" in r else r["body"] for r in event["Records"]]
    elif "detail-type" in event:  # EventBridge's Scheduled Event: its scheduled time
        ids = [event["time"]]
    else:
        ids = [str(event.get("id", ""))]
    return {"handler_start_ms": started_ms, "ids": ids, "event": event}
)PY";

struct Options {
  std::vector<std::string> sources{"async", "schedule", "file", "nats"};
  int async_events = 100, files = 100, messages = 100;  // burst phase
  int paced = 20, pace_ms = 50;                          // paced phase
  int fires = 4;                                         // schedule
  int concurrency = 4;                                   // each function's max_concurrency
  int batch = 10;                                        // NATS batch size
};

double unix_ms_now() {
  return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count()) /
         1000.0;
}

double ms_since(Clock::time_point begin) {
  return std::chrono::duration<double, std::milli>(Clock::now() - begin).count();
}

// One phase of one source: what was sent, what arrived and how fast.
struct Phase {
  std::string source, phase;
  size_t sent = 0, delivered = 0, invocations = 0, failed_invocations = 0;
  std::vector<double> enqueue_ms, dispatch_ms, handler_ms;
  std::optional<double> events_per_second;
  std::map<std::string, size_t> failure_statuses;  // failed attempts (retried by sproutd)
  std::string error;  // why it was not (fully) measured
};

// When each event of a phase happened (unix ms), by the id its handler
// reports; and the first of them.
struct SentEvents {
  std::map<std::string, double> at_unix_ms;
  double first_unix_ms = 0;
  void add(const std::string& id, double when) {
    if (at_unix_ms.empty()) first_unix_ms = when;
    at_unix_ms[id] = when;
  }
};

// The handler's result: {"handler_start_ms": T, "ids": ["a", ...], ...}.
struct HandlerReport {
  double handler_start_ms = 0;
  std::vector<std::string> ids;
};

std::optional<HandlerReport> parse_result(const std::string& result) {
  HandlerReport report;
  const auto start = result.find("\"handler_start_ms\":");
  const auto ids = result.find("\"ids\":");
  if (start == std::string::npos || ids == std::string::npos) return std::nullopt;
  report.handler_start_ms = std::strtod(result.c_str() + start + 19, nullptr);
  const auto close = result.find(']', ids);
  if (close == std::string::npos) return std::nullopt;
  // The ids hold no quotes or escapes (the benchmark names them).
  for (size_t at = result.find('"', ids + 6); at != std::string::npos && at < close;) {
    const auto end = result.find('"', at + 1);
    if (end == std::string::npos || end > close) break;
    report.ids.push_back(result.substr(at + 1, end - at - 1));
    at = result.find('"', end + 1);
  }
  return report;
}

// "2026-11-30T02:30:01Z" as unix ms.
std::optional<double> parse_iso_utc(const std::string& text) {
  std::tm tm{};
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
    return std::nullopt;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) * 1000.0;
}

ClientResult<api::Response> checked(ClientResult<api::Response> response) {
  if (response && response->status() != api::OK)
    return std::unexpected(ClientError{response->status(), response->error()});
  return response;
}

ClientResult<api::HistoryResponse> history(Client& client, const std::string& function) {
  api::Request request;
  request.mutable_history()->set_function(function);
  request.mutable_history()->set_limit(1000);
  auto response = checked(client.call(request));
  if (!response) return std::unexpected(response.error());
  return response->history();
}

// Reads the function's history until every event of `sent` (or, with
// `time_of`, `expected` events named by their time) was delivered or the
// deadline passed, and fills the phase's latencies and throughput.
void collect(Client& client, const std::string& function, const SentEvents& sent, Phase& phase,
             std::chrono::seconds deadline,
             const std::function<std::optional<double>(const std::string&)>& time_of = {},
             size_t expected = 0) {
  const size_t wanted = time_of ? expected : sent.at_unix_ms.size();
  const auto give_up = Clock::now() + deadline;
  for (;;) {
    phase.delivered = phase.invocations = phase.failed_invocations = 0;
    phase.failure_statuses.clear();
    phase.dispatch_ms.clear();
    phase.handler_ms.clear();
    std::set<std::string> seen;
    double first = sent.first_unix_ms, last_end = 0;
    auto entries = history(client, function);
    if (!entries) {
      phase.error = "history: " + entries.error().message;
      return;
    }
    for (const auto& entry : entries->entries()) {
      auto report = parse_result(entry.result());
      bool ours = false;
      for (const auto& id : report ? report->ids : std::vector<std::string>{}) {
        std::optional<double> when;
        if (time_of) {
          when = time_of(id);
        } else if (auto found = sent.at_unix_ms.find(id); found != sent.at_unix_ms.end()) {
          when = found->second;
        }
        if (!when || !seen.insert(id).second) continue;  // not this phase's, or a duplicate
        ours = true;
        if (time_of && (first == 0 || *when < first)) first = *when;
        phase.dispatch_ms.push_back(static_cast<double>(entry.start_unix_ms()) - *when);
        phase.handler_ms.push_back(report->handler_start_ms - *when);
      }
      if (ours) {
        ++phase.invocations;
        last_end = std::max(last_end, static_cast<double>(entry.start_unix_ms()) +
                                          static_cast<double>(entry.duration_us()) / 1000.0);
      } else if (entry.status() != api::OK && entry.source() != api::API) {
        ++phase.failed_invocations;
        ++phase.failure_statuses[api::Status_Name(entry.status())];
      }
    }
    phase.delivered = seen.size();
    if (phase.delivered >= wanted) {
      if (last_end > first && phase.phase == "burst")
        phase.events_per_second = static_cast<double>(phase.delivered) / ((last_end - first) / 1000.0);
      return;
    }
    if (Clock::now() > give_up) {
      phase.error = std::to_string(wanted - phase.delivered) + " not delivered within " +
                    std::to_string(deadline.count()) + " s";
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

std::chrono::seconds deadline_for(size_t events) {
  return std::chrono::seconds(60 + events / 5);
}

void pace(const Options& options, bool paced) {
  if (paced) std::this_thread::sleep_for(std::chrono::milliseconds(options.pace_ms));
}

// ---- the sources ----

Phase run_async(Client& client, const Options& options, const std::string& phase_name, int count) {
  Phase phase{"async", phase_name};
  const bool paced = phase_name == "paced";
  SentEvents sent;
  for (int i = 0; i < count; ++i) {
    const std::string id = "a-" + phase_name + "-" + std::to_string(i);
    const double at = unix_ms_now();
    const auto begin = Clock::now();
    auto accepted = client.submit("ev-async", R"({"id": ")" + id + "\"}");
    if (!accepted) {
      phase.error = "submit: " + accepted.error().message;
      break;
    }
    phase.enqueue_ms.push_back(ms_since(begin));
    sent.add(id, at);
    ++phase.sent;
    pace(options, paced);
  }
  if (phase.error.empty()) collect(client, "ev-async", sent, phase, deadline_for(phase.sent));
  return phase;
}

Phase run_schedule(Client& client, const Options& options) {
  Phase phase{"schedule", "rate(1s)"};
  api::Request add;
  add.mutable_add_schedule()->mutable_schedule()->set_function("ev-sched");
  add.mutable_add_schedule()->mutable_schedule()->set_expression("rate(1 second)");
  const double since = unix_ms_now();
  auto added = checked(client.call(add));
  if (!added) {
    phase.error = "add schedule: " + added.error().message;
    return phase;
  }
  // The fires of this schedule: events whose time is after it was added.
  auto time_of = [since](const std::string& id) -> std::optional<double> {
    auto when = parse_iso_utc(id);
    if (when && *when + 1000.0 > since) return when;
    return std::nullopt;
  };
  collect(client, "ev-sched", {}, phase, std::chrono::seconds(30 + options.fires * 2), time_of,
          static_cast<size_t>(options.fires));
  phase.sent = phase.delivered;
  api::Request remove;
  remove.mutable_remove_schedule()->set_id(added->add_schedule().schedule().id());
  if (auto removed = checked(client.call(remove)); !removed && phase.error.empty())
    phase.error = "remove schedule: " + removed.error().message;
  return phase;
}

// Waits until the trigger says it is active (a NATS consumer exists, a
// directory is watched).
std::string wait_active(Client& client, const std::string& id) {
  const auto give_up = Clock::now() + std::chrono::seconds(20);
  std::string state;
  while (Clock::now() < give_up) {
    api::Request list;
    list.mutable_list_triggers();
    auto listed = checked(client.call(list));
    if (!listed) return "list triggers: " + listed.error().message;
    for (const auto& trigger : listed->list_triggers().triggers())
      if (trigger.id() == id) state = trigger.state();
    if (state == "active") return {};
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "trigger " + id + " not active: " + state;
}

ClientResult<std::string> add_trigger(Client& client, const api::Trigger& trigger) {
  api::Request add;
  *add.mutable_add_trigger()->mutable_trigger() = trigger;
  auto added = checked(client.call(add));
  if (!added) return std::unexpected(added.error());
  return added->add_trigger().trigger().id();
}

Phase run_files(Client& client, const Options& options, const std::string& watch_dir,
                const std::string& phase_name, int count) {
  Phase phase{"file", phase_name};
  const bool paced = phase_name == "paced";
  SentEvents sent;
  for (int i = 0; i < count; ++i) {
    const std::string key = "f-" + phase_name + "-" + std::to_string(i) + ".txt";
    const std::string path = watch_dir + "/" + key;
    const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, "hello\n", 6) != 6 || close(fd) != 0) {
      phase.error = "write " + path + ": " + std::strerror(errno);
      break;
    }
    sent.add(key, unix_ms_now());
    ++phase.sent;
    pace(options, paced);
  }
  if (phase.error.empty()) collect(client, "ev-file", sent, phase, deadline_for(phase.sent));
  return phase;
}

Phase run_nats(Client& client, const Options& options, NatsPublisher& publisher,
               const std::string& phase_name, int count) {
  Phase phase{"nats", phase_name == "burst" ? "burst" : phase_name};
  const bool paced = phase_name == "paced";
  SentEvents sent;
  for (int i = 0; i < count; ++i) {
    const std::string body = "m-" + phase_name + "-" + std::to_string(i);
    const double at = unix_ms_now();
    if (auto published = publisher.publish("bench.events", body); !published) {
      phase.error = published.error().message();
      break;
    }
    sent.add(body, at);
    ++phase.sent;
    pace(options, paced);
  }
  if (phase.error.empty()) collect(client, "ev-nats", sent, phase, deadline_for(phase.sent));
  return phase;
}

// ---- the report ----

double percentile(std::vector<double> values, double fraction) {
  if (values.empty()) return NAN;
  std::sort(values.begin(), values.end());
  // Nearest rank: the smallest value with at least `fraction` of them at or below it.
  const size_t rank = static_cast<size_t>(std::ceil(fraction * static_cast<double>(values.size())));
  return values[std::max<size_t>(rank, 1) - 1];
}

std::string median_p90(const std::vector<double>& values) {
  if (values.empty()) return "-";
  char text[64];
  std::snprintf(text, sizeof text, "%.1f / %.1f", percentile(values, 0.5), percentile(values, 0.9));
  return text;
}

void print_phase(const Phase& phase) {
  char rate[32] = "-";
  if (phase.events_per_second) std::snprintf(rate, sizeof rate, "%.1f", *phase.events_per_second);
  std::printf("%-9s %-9s %6zu %9zu %11zu %8zu %17s %17s %17s %9s\n", phase.source.c_str(),
              phase.phase.c_str(), phase.sent, phase.delivered, phase.invocations,
              phase.failed_invocations, median_p90(phase.enqueue_ms).c_str(),
              median_p90(phase.dispatch_ms).c_str(), median_p90(phase.handler_ms).c_str(), rate);
  if (!phase.error.empty())
    std::printf("  %s %s: %s\n", phase.source.c_str(), phase.phase.c_str(), phase.error.c_str());
  for (const auto& [status, count] : phase.failure_statuses)
    std::printf("  %s %s: %zu failed attempts %s\n", phase.source.c_str(), phase.phase.c_str(), count,
                status.c_str());
}

// ---- setup ----

api::FunctionSpec handler_spec(const std::string& name, const Options& options) {
  api::FunctionSpec spec;
  spec.set_name(name);
  spec.set_runtime(api::PYTHON3);
  spec.set_handler("handler.handler");
  spec.set_code(kHandler);
  spec.set_code_format(api::SINGLE_FILE);
  spec.set_code_file_name("handler.py");
  spec.set_memory_mb(128);
  spec.set_timeout_ms(10000);
  spec.set_max_concurrency(static_cast<uint32_t>(options.concurrency));
  return spec;
}

// Invokes once, so that the measurement does not include building the
// function's snapshot (again after a file trigger, whose read-only mount
// makes a new one).
std::string warm(Client& client, const std::string& name) {
  auto warm = client.invoke(name, R"({"id": "warm"})");
  if (!warm) return "invoke " + name + ": " + warm.error().message;
  if (warm->status() != api::OK) return "invoke " + name + ": " + warm->detail();
  return {};
}

std::string deploy_warm(Client& client, const std::string& name, const Options& options) {
  if (auto deployed = client.deploy(handler_spec(name, options)); !deployed)
    return "deploy " + name + ": " + deployed.error().message;
  return warm(client, name);
}

bool has(const std::vector<std::string>& list, const std::string& item) {
  return std::find(list.begin(), list.end(), item) != list.end();
}

std::string usage() {
  return "usage: sprout-event-bench [--sources async,schedule,file,nats] [--events N] [--async N]\n"
         "         [--files N] [--messages N] [--paced N] [--pace-ms MS] [--fires N]\n"
         "         [--concurrency C] [--batch B]\n";
}

std::optional<Options> parse_options(int argc, char** argv) {
  Options options;
  auto number = [&](int& i, int& into, int low, int high) {
    if (i + 1 >= argc) return false;
    char* end = nullptr;
    const long value = std::strtol(argv[++i], &end, 10);
    if (*end != '\0' || value < low || value > high) {
      std::fprintf(stderr, "%s: expected a number from %d to %d, got '%s'\n", argv[i - 1], low,
                   high, argv[i]);
      return false;
    }
    into = static_cast<int>(value);
    return true;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    int events = 0;
    bool ok = true;
    if (flag == "--sources" && i + 1 < argc) {
      options.sources.clear();
      std::stringstream list(argv[++i]);
      for (std::string source; std::getline(list, source, ',');) {
        if (!has({"async", "schedule", "file", "nats"}, source)) {
          std::fprintf(stderr, "--sources: unknown source '%s'\n", source.c_str());
          return std::nullopt;
        }
        options.sources.push_back(source);
      }
    } else if (flag == "--events") {
      ok = number(i, events, 1, 900);
      options.async_events = options.files = options.messages = events;
    } else if (flag == "--async") {
      ok = number(i, options.async_events, 1, 900);
    } else if (flag == "--files") {
      ok = number(i, options.files, 1, 900);
    } else if (flag == "--messages") {
      ok = number(i, options.messages, 1, 900);
    } else if (flag == "--paced") {
      ok = number(i, options.paced, 0, 90);
    } else if (flag == "--pace-ms") {
      ok = number(i, options.pace_ms, 0, 10000);
    } else if (flag == "--fires") {
      ok = number(i, options.fires, 1, 100);
    } else if (flag == "--concurrency") {
      ok = number(i, options.concurrency, 1, 1000);
    } else if (flag == "--batch") {
      ok = number(i, options.batch, 1, 100);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fputs(usage().c_str(), stderr);
      return std::nullopt;
    }
  }
  return options;
}

int run(const Options& options) {
  std::printf("machine probes (medians): %s\n", describe(probe_machine()).c_str());
  std::printf(
      "sprout-event-bench: python3 handler, max_concurrency %d, %u CPUs; paced: %d events %d ms "
      "apart; burst: async %d, files %d, NATS %d messages (batch %d); schedule: %d fires\n",
      options.concurrency, std::thread::hardware_concurrency(), options.paced, options.pace_ms,
      options.async_events, options.files, options.messages, options.batch, options.fires);
  static_cast<void>(std::fflush(stdout));  // before the progress of stderr

  auto dir = TempDir::create("sprout-event-bench-");
  if (!dir) return std::fprintf(stderr, "%s\n", dir.error().message().c_str()), 1;
  std::optional<NatsServer> nats;  // declared before sproutd: stopped after it
  // The daemon's own directory apart: a watched directory may not hold it.
  std::filesystem::create_directories(dir->path() + "/daemon");
  auto daemon = start_sproutd(SPROUT_EVENT_BENCH_SPROUTD, dir->path() + "/daemon");
  if (!daemon) return std::fprintf(stderr, "%s\n", daemon.error().message().c_str()), 1;
  auto connected = Client::connect(daemon->socket);
  if (!connected) return std::fprintf(stderr, "connect: %s\n", connected.error().message.c_str()), 1;
  Client& client = **connected;

  std::vector<Phase> phases;
  auto not_measured = [&](const std::string& source, const std::string& why) {
    Phase phase{source, "-"};
    phase.error = why;
    phases.push_back(phase);
  };
  auto note = [](const char* what) { std::fprintf(stderr, "sprout-event-bench: %s\n", what); };

  if (has(options.sources, "async")) {
    note("async");
    if (auto failed = deploy_warm(client, "ev-async", options); !failed.empty()) {
      not_measured("async", failed);
    } else {
      if (options.paced > 0) phases.push_back(run_async(client, options, "paced", options.paced));
      phases.push_back(run_async(client, options, "burst", options.async_events));
    }
  }
  if (has(options.sources, "schedule")) {
    note("schedule");
    if (auto failed = deploy_warm(client, "ev-sched", options); !failed.empty())
      not_measured("schedule", failed);
    else
      phases.push_back(run_schedule(client, options));
  }
  if (has(options.sources, "file")) {
    note("file");
    const std::string watch_dir = dir->path() + "/watched";
    std::filesystem::create_directories(watch_dir);
    api::Trigger trigger;
    trigger.set_function("ev-file");
    trigger.mutable_file()->set_watch_dir(watch_dir);
    trigger.mutable_file()->set_bucket("bench");
    std::string failed = deploy_warm(client, "ev-file", options);
    if (failed.empty()) {
      auto id = add_trigger(client, trigger);
      failed = id ? wait_active(client, *id) : "add trigger: " + id.error().message;
    }
    if (failed.empty()) failed = warm(client, "ev-file");
    if (!failed.empty()) {
      not_measured("file", failed);
    } else {
      if (options.paced > 0)
        phases.push_back(run_files(client, options, watch_dir, "paced", options.paced));
      phases.push_back(run_files(client, options, watch_dir, "burst", options.files));
    }
  }
  if (has(options.sources, "nats")) {
    note("nats");
    std::string failed;
    std::unique_ptr<NatsPublisher> publisher;
    std::filesystem::create_directories(dir->path() + "/nats");
    if (auto started = start_nats_server(dir->path() + "/nats"); !started) {
      failed = started.error().message();
    } else {
      nats.emplace(std::move(*started));
      auto connected_nats = NatsPublisher::connect(nats->url);
      if (!connected_nats) failed = connected_nats.error().message();
      else publisher = std::move(*connected_nats);
    }
    if (failed.empty())
      if (auto added = publisher->add_stream("BENCH", "bench.events"); !added)
        failed = added.error().message();
    if (failed.empty()) failed = deploy_warm(client, "ev-nats", options);
    if (failed.empty()) {
      api::Trigger trigger;
      trigger.set_function("ev-nats");
      trigger.mutable_nats()->set_url(nats->url);
      trigger.mutable_nats()->set_stream("BENCH");
      trigger.mutable_nats()->set_subject("bench.events");
      trigger.mutable_nats()->set_batch_size(static_cast<uint32_t>(options.batch));
      auto id = add_trigger(client, trigger);
      failed = id ? wait_active(client, *id) : "add trigger: " + id.error().message;
    }
    if (!failed.empty()) {
      not_measured("nats", failed);
    } else {
      if (options.paced > 0)
        phases.push_back(run_nats(client, options, *publisher, "paced", options.paced));
      phases.push_back(run_nats(client, options, *publisher, "burst", options.messages));
    }
  }

  std::printf(
      "latency from the event, ms, median / p90; dispatch: sproutd starts the invocation; "
      "handler: the handler's first line\n");
  std::printf("%-9s %-9s %6s %9s %11s %8s %17s %17s %17s %9s\n", "source", "phase", "events",
              "delivered", "invocations", "failures", "enqueue", "dispatch", "handler",
              "events/s");
  bool complete = true;
  for (const auto& phase : phases) {
    print_phase(phase);
    complete = complete && phase.error.empty();
  }
  connected->reset();  // before sproutd stops
  return complete ? 0 : 1;
}

}  // namespace
}  // namespace sprout::bench

int main(int argc, char** argv) {
  auto options = sprout::bench::parse_options(argc, argv);
  if (!options) return 2;
  return sprout::bench::run(*options);
}
