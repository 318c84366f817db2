// What /metrics shows of sproutd, copied at one instant by
// FunctionManager::metrics() and rendered by metrics_exposition.cc. Plain
// data.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "supervisor/function_stats.h"

namespace sprout::supervisor {

struct FunctionMetrics {
  std::string name;
  FunctionStats::Counters counters;
};

struct NodeMetrics {
  std::vector<FunctionMetrics> functions;  // every deployed function, by name
  bool serving = true;                     // false while draining
  uint32_t live_sandboxes = 0;             // running an invocation
  uint32_t idle_sandboxes = 0;             // pre-forked, never used
  uint32_t live_snapshots = 0;
  uint32_t live_zygotes = 0;
  uint32_t host_ids_in_use = 0;
  uint32_t queued_invocations = 0;
  uint32_t result_waits = 0;    // from the event service
  uint32_t queued_events = 0;   // asynchronous events accepted, not finished
  uint64_t refused_queue_full = 0;
  uint64_t refused_queue_timeout = 0;
  // (listener, open connections), by listener name; only the listeners
  // that registered a count (FunctionManager::set_connection_count).
  std::vector<std::pair<std::string, uint32_t>> connections;
};

}  // namespace sprout::supervisor
