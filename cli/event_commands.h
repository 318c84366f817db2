// The event side of `sprout` (docs/events.md): asynchronous invocations,
// history, dead letters, schedules and triggers. Each command takes the
// parsed, flag-checked options, checks its words and values before it
// connects, and returns the process's exit code.
#pragma once

#include "cli/command_support.h"
#include "cli/options.h"

namespace sprout::cli {

// --async-retries, --async-max-age-s, --on-failure into `spec.async`; false
// (after saying why on stderr) on a usage error.
bool apply_async_flags(const Options& options, api::FunctionSpec& spec);

// `invoke NAME --async`: prints the invocation id.
int invoke_async(LazyClient& client, const Options& options);
int history(LazyClient& client, const Options& options);
int dead_letters(LazyClient& client, const Options& options);  // dlq ls | dlq redrive
int schedule(LazyClient& client, const Options& options);      // schedule add | ls | rm
int trigger(LazyClient& client, const Options& options);       // trigger add | ls | rm

}  // namespace sprout::cli
