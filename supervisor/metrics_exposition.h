// sproutd's metrics in the Prometheus text exposition format (version
// 0.0.4), served on the HTTP front door's /metrics. Every metric, its type
// and labels: docs/metrics.md.
#pragma once

#include <string>

#include "supervisor/node_metrics.h"
#include "supervisor/process_metrics.h"
#include "supervisor/prometheus_text.h"

namespace sprout::supervisor {

class FunctionManager;

// Every metric of sproutd: per function, node-wide, and sproutd's own
// process. Thread-safe; holds no lock of the manager while it formats.
std::string render_prometheus_metrics(FunctionManager& manager);

// The text for given figures (pure). `process`: null leaves the process_*
// metrics out (when /proc cannot be read).
std::string render_metrics_text(const NodeMetrics& node, const ProcessMetrics* process);

}  // namespace sprout::supervisor
