// How `sprout` shows the event side's messages: one JSON object each for
// --json, and the table rows and lines of the human output. The column
// layouts are documented in docs/cli.md; scripts should read --json.
#pragma once

#include <string>

#include "api/proto/sprout_api.pb.h"

namespace sprout::cli {

// "api", "http", "async", "schedule", "file", "queue" ("unknown" otherwise).
std::string source_name(api::InvocationSource source);

std::string async_config_json(const api::AsyncConfig& async);
// "retries=2 max-age-s=21600 on-failure=dead-letters": the effective values,
// the server's defaults where the spec leaves them unset.
std::string async_config_line(const api::AsyncConfig& async);

std::string history_entry_json(const api::HistoryEntry& entry);
std::string history_header();
// One row; with `with_logs`, followed by the log tail indented by four spaces.
std::string history_row(const api::HistoryEntry& entry, bool with_logs);

std::string dead_letter_json(const api::DeadLetter& letter);
std::string dead_letter_header();
std::string dead_letter_row(const api::DeadLetter& letter);

std::string schedule_json(const api::Schedule& schedule);
std::string schedule_header();
std::string schedule_row(const api::Schedule& schedule);

std::string trigger_json(const api::Trigger& trigger);
// The header and one row per trigger: ID FUNCTION KIND DELIVERED SOURCE
// STATE.
std::string trigger_table(const google::protobuf::RepeatedPtrField<api::Trigger>& triggers);
// "file" or "nats".
std::string trigger_kind(const api::Trigger& trigger);
// What the trigger watches, as one line of key=value words:
// "dir=/srv/up bucket=up prefix=in/ suffix=.jpg" or
// "url=nats://127.0.0.1:4222 stream=ORDERS subject=orders.new batch=10 ...".
std::string trigger_source_line(const api::Trigger& trigger);

}  // namespace sprout::cli
