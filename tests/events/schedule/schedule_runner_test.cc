// The schedule runner with a fake EventQueue that, like the real one, keeps
// its events in the same database file on a connection of its own and runs
// same_transaction inside its insert; and with an injected clock, so that
// hours pass in no time. One test runs on the real clock.
#include "events/schedule/schedule_runner.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <mutex>

#include "http/json.h"
#include "tests/events/schedule/time_test_support.h"
#include "tests/support/wait_until.h"

namespace sprout::events {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using testing::utc;

// The "time" of a Scheduled Event payload.
std::string payload_time(const std::string& payload) {
  auto json = http::parse_json(payload);
  if (!json || !json->find("time")) return "<no time>";
  return json->find("time")->as_string();
}

// remove's answer: true when it removed one; a failure fails the test.
bool removed(const Result<bool>& answer) {
  EXPECT_TRUE(answer) << answer.error().message();
  return answer && *answer;
}

class FakeQueue : public EventQueue {
 public:
  struct Stored {
    NewEvent event;
    std::function<void(const api::InvokeResponse&)> finished;
  };

  explicit FakeQueue(const std::string& path) {
    auto db = Database::open(path, Durability::kFull);
    EXPECT_TRUE(db);
    db_ = std::move(*db);
    EXPECT_TRUE(db_->exec("CREATE TABLE IF NOT EXISTS fake_events (function TEXT, payload BLOB)"));
  }

  Enqueued enqueue(const NewEvent& event,
                   const std::function<Result<void>(Database&)>& same_transaction,
                   std::function<void(const api::InvokeResponse&)> finished) override {
    if (before_transaction) before_transaction();
    std::lock_guard lock(mutex_);
    if (refuse_with != api::OK) return Enqueued{.status = refuse_with, .error = "refused by test"};
    auto tx = db_->begin();
    if (!tx) return Enqueued{.status = api::INTERNAL, .error = tx.error().message()};
    auto insert = db_->prepare("INSERT INTO fake_events VALUES (?, ?)");
    if (!insert || !insert->bind(1, event.function).bind_blob(2, event.payload).run())
      return Enqueued{.status = api::INTERNAL, .error = "insert"};
    if (same_transaction) {
      if (auto r = same_transaction(*db_); !r)
        return Enqueued{.status = api::INTERNAL, .error = r.error().message()};
    }
    if (auto r = tx->commit(); !r) return Enqueued{.status = api::INTERNAL, .error = "commit"};
    stored_.push_back(Stored{event, std::move(finished)});
    return Enqueued{.status = api::OK, .request_id = "req-" + std::to_string(stored_.size())};
  }

  std::vector<Stored> events() {
    std::lock_guard lock(mutex_);
    return stored_;
  }
  size_t count() {
    std::lock_guard lock(mutex_);
    return stored_.size();
  }
  // Ends every run so far, as the real queue does after the last attempt.
  void finish_all() {
    std::vector<std::function<void(const api::InvokeResponse&)>> callbacks;
    {
      std::lock_guard lock(mutex_);
      for (auto& stored : stored_) {
        if (stored.finished) callbacks.push_back(std::exchange(stored.finished, {}));
      }
    }
    for (auto& callback : callbacks) callback(api::InvokeResponse());
  }
  int64_t rows() {
    std::lock_guard lock(mutex_);
    auto select = db_->prepare("SELECT COUNT(*) FROM fake_events");
    EXPECT_TRUE(select && *select->step());
    return select->column_int(0);
  }

  api::Status refuse_with = api::OK;
  std::function<void()> before_transaction;

 private:
  std::mutex mutex_;
  std::unique_ptr<Database> db_;
  std::vector<Stored> stored_;
};

class ScheduleRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sprout-test-schedule-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    queue_ = std::make_unique<FakeQueue>(dir_ + "/events.db");
    set_clock(utc(2026, 1, 1, 0, 0, 10));
  }
  void TearDown() override {
    runner_.reset();
    queue_.reset();
    std::filesystem::remove_all(dir_);
  }

  void set_clock(Instant t) { clock_ms_ = t.time_since_epoch().count() * 1000; }
  void advance(std::chrono::seconds by) { clock_ms_ += by.count() * 1000; }

  ScheduleRunnerOptions options() {
    ScheduleRunnerOptions o;
    o.database_path = dir_ + "/events.db";
    o.origin = {.region = "local", .account = "000000000000"};
    o.function_exists = [](const std::string& name) { return name == "fn" || name == "other"; };
    o.now = [this] {
      return std::chrono::system_clock::time_point(std::chrono::milliseconds(clock_ms_.load()));
    };
    return o;
  }

  // (Re)opens the runner, as sproutd does at start.
  ScheduleRunner& open_runner() {
    runner_.reset();
    auto runner = ScheduleRunner::open(options(), *queue_);
    EXPECT_TRUE(runner) << runner.error().message();
    runner_ = std::move(*runner);
    return *runner_;
  }

  api::Schedule add(const std::string& id, const std::string& expression,
                    const std::string& zone = "") {
    api::Schedule s;
    s.set_id(id);
    s.set_function("fn");
    s.set_expression(expression);
    s.set_time_zone(zone);
    auto answer = runner_->add(s);
    EXPECT_EQ(answer.status, api::OK) << answer.error;
    return answer.schedule;
  }

  api::Schedule listed(const std::string& id) {
    for (const auto& s : runner_->list("")) {
      if (s.id() == id) return s;
    }
    ADD_FAILURE() << "no schedule " << id;
    return {};
  }

  static std::string event_time(const FakeQueue::Stored& stored) {
    return payload_time(stored.event.payload);
  }

  static int64_t ms(Instant t) { return t.time_since_epoch().count() * 1000; }

  std::string dir_;
  std::atomic<int64_t> clock_ms_{0};
  std::unique_ptr<FakeQueue> queue_;
  std::unique_ptr<ScheduleRunner> runner_;
};

TEST_F(ScheduleRunnerTest, AddValidatesEverything) {
  auto& runner = open_runner();
  auto refused = [&](const api::Schedule& s, api::Status status, const std::string& words) {
    auto answer = runner.add(s);
    EXPECT_EQ(answer.status, status) << s.ShortDebugString() << ": " << answer.error;
    EXPECT_NE(answer.error.find(words), std::string::npos) << answer.error;
  };
  api::Schedule base;
  base.set_id("nightly");
  base.set_function("fn");
  base.set_expression("cron(0 3 * * ? *)");

  api::Schedule s = base;
  s.set_id("no spaces");
  refused(s, api::INVALID_ARGUMENT, "schedule id");
  s.set_id(std::string(65, 'a'));
  refused(s, api::INVALID_ARGUMENT, "schedule id");
  s = base;
  s.set_function("missing");
  refused(s, api::NOT_FOUND, "missing");
  s = base;
  s.set_expression("cron(0 25 * * ? *)");
  refused(s, api::INVALID_ARGUMENT, "hours field");
  s = base;
  s.set_time_zone("../../etc/passwd");
  refused(s, api::INVALID_ARGUMENT, "time zone");
  s.set_time_zone("Europe/Atlantis");
  refused(s, api::INVALID_ARGUMENT, "unknown");
  s = base;
  s.set_payload("{not json");
  refused(s, api::INVALID_ARGUMENT, "JSON");
  s = base;
  s.set_expression("cron(0 0 1 1 ? 2020)");
  refused(s, api::INVALID_ARGUMENT, "never fires");
  s = base;
  s.set_max_catch_up(5000);
  refused(s, api::INVALID_ARGUMENT, "max_catch_up");

  s = base;
  s.set_next_fire_unix_ms(1);  // ignored: set by the runner
  s.set_last_fire_unix_ms(1);
  s.set_time_zone("Europe/Berlin");
  auto ok = runner.add(s);
  ASSERT_EQ(ok.status, api::OK) << ok.error;
  EXPECT_EQ(ok.schedule.created_unix_ms(), ms(utc(2026, 1, 1, 0, 0, 10)));
  EXPECT_EQ(ok.schedule.next_fire_unix_ms(), ms(utc(2026, 1, 1, 2)));  // 03:00 CET
  EXPECT_EQ(ok.schedule.last_fire_unix_ms(), 0);
  refused(base, api::INVALID_ARGUMENT, "already exists");

  api::Schedule generated = base;
  generated.clear_id();
  auto answer = runner.add(generated);
  ASSERT_EQ(answer.status, api::OK) << answer.error;
  EXPECT_EQ(answer.schedule.id().size(), 36u);
  EXPECT_EQ(runner.list("").size(), 2u);
  EXPECT_EQ(runner.list("fn").size(), 2u);
  EXPECT_TRUE(runner.list("other").empty());
}

TEST_F(ScheduleRunnerTest, FiresWhenDueWithAScheduledEvent) {
  auto& runner = open_runner();
  const auto s = add("every-minute", "rate(1 minute)");
  EXPECT_EQ(s.next_fire_unix_ms(), ms(utc(2026, 1, 1, 0, 1, 10)));
  EXPECT_EQ(runner.run_due(), 0u);
  advance(seconds(59));
  EXPECT_EQ(runner.run_due(), 0u);
  advance(seconds(1));
  EXPECT_EQ(runner.run_due(), 1u);
  EXPECT_EQ(runner.run_due(), 0u) << "a fire is made once";
  auto events = queue_->events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event.function, "fn");
  EXPECT_EQ(events[0].event.source, api::SCHEDULE);
  EXPECT_EQ(events[0].event.source_id, "every-minute");
  auto json = http::parse_json(events[0].event.payload);
  ASSERT_TRUE(json);
  EXPECT_EQ(json->find("detail-type")->as_string(), "Scheduled Event");
  EXPECT_EQ(json->find("source")->as_string(), "aws.events");
  EXPECT_EQ(json->find("time")->as_string(), "2026-01-01T00:01:10Z");
  EXPECT_EQ(json->find("region")->as_string(), "local");
  EXPECT_EQ(json->find("resources")->items()[0].as_string(),
            "arn:aws:events:local:000000000000:rule/every-minute");
  const auto after = listed("every-minute");
  EXPECT_EQ(after.last_fire_unix_ms(), ms(utc(2026, 1, 1, 0, 1, 10)));
  EXPECT_EQ(after.next_fire_unix_ms(), ms(utc(2026, 1, 1, 0, 2, 10)));
  EXPECT_EQ(runner.stats().fired, 1u);
}

TEST_F(ScheduleRunnerTest, CronInAZoneFiresAtTheEndOfTheSpringGap) {
  set_clock(utc(2026, 3, 28, 12));
  auto& runner = open_runner();
  add("berlin", "cron(30 2 * * ? *)", "Europe/Berlin");
  set_clock(utc(2026, 3, 29, 0, 59, 59));
  EXPECT_EQ(runner.run_due(), 0u);
  set_clock(utc(2026, 3, 29, 1, 0, 2));
  EXPECT_EQ(runner.run_due(), 1u);
  ASSERT_EQ(queue_->count(), 1u);
  EXPECT_EQ(event_time(queue_->events()[0]), "2026-03-29T01:00:00Z");
  EXPECT_EQ(listed("berlin").next_fire_unix_ms(), ms(utc(2026, 3, 30, 0, 30)));
}

TEST_F(ScheduleRunnerTest, OwnPayloadIsDeliveredAsIs) {
  auto& runner = open_runner();
  api::Schedule s;
  s.set_id("p");
  s.set_function("fn");
  s.set_expression("rate(5 minutes)");
  s.set_payload(R"({"job": "report"})");
  ASSERT_EQ(runner.add(s).status, api::OK);
  advance(minutes(5));
  EXPECT_EQ(runner.run_due(), 1u);
  EXPECT_EQ(queue_->events()[0].event.payload, R"({"job": "report"})");
}

TEST_F(ScheduleRunnerTest, NoOverlapWhileARunIsUnfinished) {
  auto& runner = open_runner();
  add("single", "rate(1 minute)");
  api::Schedule overlapping;
  overlapping.set_id("parallel");
  overlapping.set_function("fn");
  overlapping.set_expression("rate(1 minute)");
  overlapping.set_allow_overlap(true);
  ASSERT_EQ(runner.add(overlapping).status, api::OK);

  advance(minutes(1));
  EXPECT_EQ(runner.run_due(), 2u);
  advance(minutes(1));  // neither run has finished
  EXPECT_EQ(runner.run_due(), 1u) << "only the schedule that allows overlap";
  EXPECT_EQ(runner.stats().skipped_overlap, 1u);
  advance(minutes(1));
  EXPECT_EQ(runner.run_due(), 1u);
  EXPECT_EQ(runner.stats().skipped_overlap, 2u);
  queue_->finish_all();
  advance(minutes(1));
  EXPECT_EQ(runner.run_due(), 2u);
  size_t single = 0;
  for (const auto& stored : queue_->events()) single += stored.event.source_id == "single" ? 1 : 0;
  EXPECT_EQ(single, 2u);
  // The skipped fires moved next_fire past them: nothing is owed.
  EXPECT_EQ(listed("single").next_fire_unix_ms(), ms(utc(2026, 1, 1, 0, 5, 10)));
}

TEST_F(ScheduleRunnerTest, CatchUpAfterDowntimeIsBounded) {
  open_runner();
  add("hourly", "cron(0 * * * ? *)");
  api::Schedule three;
  three.set_id("three");
  three.set_function("fn");
  three.set_expression("cron(0 * * * ? *)");
  three.set_max_catch_up(3);
  ASSERT_EQ(runner_->add(three).status, api::OK);
  api::Schedule none;
  none.set_id("none");
  none.set_function("fn");
  none.set_expression("cron(0 * * * ? *)");
  none.set_max_catch_up(0);
  ASSERT_EQ(runner_->add(none).status, api::OK);

  // sproutd is down from 00:00:10 to 05:30: fires at 01:00 .. 05:00 missed.
  runner_.reset();
  set_clock(utc(2026, 1, 1, 5, 30));
  auto& runner = open_runner();
  EXPECT_EQ(runner.run_due(), 2u);  // hourly: 1, three: the first of 3, none: 0
  EXPECT_EQ(listed("three").next_fire_unix_ms(), ms(utc(2026, 1, 1, 4)))
      << "the made-up runs still owed stay due, in the database too";
  EXPECT_EQ(runner.run_due(), 0u) << "owed runs wait for the one in progress";
  // Without allow_overlap, three's made-up runs go one after the other.
  for (int owed = 0; owed < 2; ++owed) {
    queue_->finish_all();
    EXPECT_EQ(runner.run_due(), 1u);
  }
  std::map<std::string, std::vector<std::string>> times;
  for (const auto& stored : queue_->events()) times[stored.event.source_id].push_back(event_time(stored));
  EXPECT_EQ(times["hourly"], std::vector<std::string>{"2026-01-01T05:00:00Z"});
  EXPECT_EQ(times["three"], (std::vector<std::string>{"2026-01-01T03:00:00Z", "2026-01-01T04:00:00Z",
                                                       "2026-01-01T05:00:00Z"}));
  EXPECT_TRUE(times["none"].empty());
  EXPECT_EQ(runner.stats().skipped_missed, 4u + 2u + 5u) << "each missed fire counted once";
  EXPECT_EQ(runner.stats().skipped_overlap, 0u) << "owed runs are never skipped";
  for (const char* id : {"hourly", "three", "none"})
    EXPECT_EQ(listed(id).next_fire_unix_ms(), ms(utc(2026, 1, 1, 6))) << id;
  queue_->finish_all();
  set_clock(utc(2026, 1, 1, 6, 0, 1));
  EXPECT_EQ(runner.run_due(), 3u) << "back on schedule";
}

TEST_F(ScheduleRunnerTest, OnTimeFireRunsAfterTheCatchUp) {
  open_runner();
  add("hourly", "rate(1 hour)");  // from 00:00:10
  runner_.reset();
  set_clock(utc(2026, 1, 1, 3, 0, 40));  // 30 s after the 03:00:10 fire
  auto& runner = open_runner();
  EXPECT_EQ(runner.run_due(), 1u) << "without allow_overlap, one run at a time";
  EXPECT_EQ(runner.run_due(), 0u);
  queue_->finish_all();
  advance(seconds(5));
  EXPECT_EQ(runner.run_due(), 1u);
  auto events = queue_->events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(event_time(events[0]), "2026-01-01T02:00:10Z");  // made up
  EXPECT_EQ(event_time(events[1]), "2026-01-01T03:00:10Z");  // on time, after it
  EXPECT_EQ(runner.stats().skipped_missed, 1u);
  EXPECT_EQ(listed("hourly").next_fire_unix_ms(), ms(utc(2026, 1, 1, 4, 0, 10)));
}

TEST_F(ScheduleRunnerTest, WithAllowOverlapTheCatchUpAndTheOnTimeFireStartTogether) {
  open_runner();
  api::Schedule s;
  s.set_id("hourly");
  s.set_function("fn");
  s.set_expression("rate(1 hour)");
  s.set_allow_overlap(true);
  ASSERT_EQ(runner_->add(s).status, api::OK);
  runner_.reset();
  set_clock(utc(2026, 1, 1, 3, 0, 40));
  auto& runner = open_runner();
  EXPECT_EQ(runner.run_due(), 2u);
  auto events = queue_->events();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(event_time(events[0]), "2026-01-01T02:00:10Z");
  EXPECT_EQ(event_time(events[1]), "2026-01-01T03:00:10Z");
}

TEST_F(ScheduleRunnerTest, SchedulesPersistAcrossRestarts) {
  open_runner();
  add("a", "rate(10 minutes)");
  api::Schedule b;
  b.set_id("b");
  b.set_function("other");
  b.set_expression("0 12 * * mon");
  b.set_time_zone("America/New_York");
  b.set_payload("[1,2]");
  b.set_allow_overlap(true);
  b.set_max_catch_up(7);
  ASSERT_EQ(runner_->add(b).status, api::OK);
  add("c", "rate(1 day)");
  advance(minutes(10));
  EXPECT_EQ(runner_->run_due(), 1u);
  const auto before = runner_->list("");
  ASSERT_TRUE(removed(runner_->remove("c")));
  EXPECT_FALSE(removed(runner_->remove("c")));

  open_runner();
  const auto after = runner_->list("");
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].SerializeAsString(), before[0].SerializeAsString());
  EXPECT_EQ(after[1].SerializeAsString(), before[1].SerializeAsString());
  EXPECT_EQ(after[0].last_fire_unix_ms(), ms(utc(2026, 1, 1, 0, 10, 10)));
  EXPECT_TRUE(after[1].has_max_catch_up());
  EXPECT_EQ(after[1].max_catch_up(), 7u);
  EXPECT_EQ(runner_->remove_function("other").value_or(0), 1u);
  open_runner();
  ASSERT_EQ(runner_->list("").size(), 1u);
  EXPECT_EQ(runner_->list("")[0].id(), "a");
  // The next fire continues the rate from its creation time.
  set_clock(utc(2026, 1, 1, 0, 20, 10));
  EXPECT_EQ(runner_->run_due(), 1u);
  EXPECT_EQ(event_time(queue_->events().back()), "2026-01-01T00:20:10Z");
}

TEST_F(ScheduleRunnerTest, ARemovedScheduleRefusesItsEvent) {
  auto& runner = open_runner();
  add("gone", "rate(1 minute)");
  advance(minutes(1));
  // Removed between planning and the queue's transaction: the UPDATE in
  // same_transaction finds no row and the queue stores nothing.
  queue_->before_transaction = [&] { ASSERT_TRUE(removed(runner.remove("gone"))); };
  EXPECT_EQ(runner.run_due(), 0u);
  EXPECT_EQ(queue_->rows(), 0);
  EXPECT_EQ(runner.stats().failed, 1u);
  EXPECT_TRUE(runner.list("").empty());
}

TEST_F(ScheduleRunnerTest, ARefusedFireIsNotRetried) {
  auto& runner = open_runner();
  add("r", "rate(1 minute)");
  queue_->refuse_with = api::THROTTLED;
  advance(minutes(1));
  EXPECT_EQ(runner.run_due(), 0u);
  EXPECT_EQ(runner.stats().failed, 1u);
  EXPECT_EQ(runner.run_due(), 0u);
  EXPECT_EQ(runner.stats().failed, 1u) << "the refused fire is not asked again";
  EXPECT_EQ(listed("r").next_fire_unix_ms(), ms(utc(2026, 1, 1, 0, 2, 10)));
  queue_->refuse_with = api::OK;
  advance(minutes(1));
  EXPECT_EQ(runner.run_due(), 1u);
  // The refusal did not leave the schedule "running".
  advance(minutes(1));
  queue_->finish_all();
  EXPECT_EQ(runner.run_due(), 1u);
  open_runner();
  EXPECT_EQ(listed("r").next_fire_unix_ms(), ms(utc(2026, 1, 1, 0, 4, 10)));
}

TEST_F(ScheduleRunnerTest, AFireRefusedWhileClosingIsMadeUpAfterRestart) {
  open_runner();
  add("u", "rate(1 minute)");
  queue_->refuse_with = api::UNAVAILABLE;  // sproutd is stopping
  advance(minutes(1));
  EXPECT_EQ(runner_->run_due(), 0u);
  EXPECT_EQ(runner_->run_due(), 0u);
  EXPECT_EQ(runner_->stats().failed, 1u);
  queue_->refuse_with = api::OK;
  advance(seconds(30));
  auto& runner = open_runner();
  EXPECT_EQ(runner.run_due(), 1u);
  ASSERT_EQ(queue_->count(), 1u);
  EXPECT_EQ(event_time(queue_->events()[0]), "2026-01-01T00:01:10Z");
}

TEST_F(ScheduleRunnerTest, AClockThatJumpsFarBackRecomputes) {
  auto& runner = open_runner();
  add("h", "rate(1 hour)");
  set_clock(utc(2026, 1, 1, 1, 0, 10));
  EXPECT_EQ(runner.run_due(), 1u);
  queue_->finish_all();
  set_clock(utc(2025, 12, 31, 0, 0, 30));  // a day back
  EXPECT_EQ(runner.run_due(), 0u);
  EXPECT_EQ(listed("h").next_fire_unix_ms(), ms(utc(2025, 12, 31, 1, 0, 10)));
  // A small step back only delays.
  auto& same = runner;
  ASSERT_TRUE(removed(same.remove("h")));
  set_clock(utc(2026, 1, 1, 0, 0, 10));
  add("m", "rate(1 minute)");
  set_clock(utc(2026, 1, 1, 0, 1, 10));
  EXPECT_EQ(same.run_due(), 1u);
  queue_->finish_all();
  set_clock(utc(2026, 1, 1, 0, 0, 50));
  EXPECT_EQ(same.run_due(), 0u);
  EXPECT_EQ(listed("m").next_fire_unix_ms(), ms(utc(2026, 1, 1, 0, 2, 10)));
}

TEST(ScheduleRunnerRealTimeTest, ARatePerSecondFiresOnTheRealClock) {
  char dir[] = "/tmp/sprout-test-schedule-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  {
    FakeQueue queue(std::string(dir) + "/events.db");
    ScheduleRunnerOptions options;
    options.database_path = std::string(dir) + "/events.db";
    options.function_exists = [](const std::string&) { return true; };
    auto runner = ScheduleRunner::open(options, queue);
    ASSERT_TRUE(runner) << runner.error().message();
    (*runner)->start();
    api::Schedule s;
    s.set_id("tick");
    s.set_function("fn");
    s.set_expression("rate(1 second)");
    s.set_allow_overlap(true);
    ASSERT_EQ((*runner)->add(s).status, api::OK);  // after start: add wakes the thread
    EXPECT_TRUE(sprout::testing::wait_until([&] { return queue.count() >= 3; },
                                            std::chrono::seconds(30)))
        << queue.count() << " fires";
    (*runner)->stop();
    const auto events = queue.events();
    ASSERT_GE(events.size(), 3u);
    for (size_t i = 1; i < events.size(); ++i) {
      // ISO 8601 times in UTC order as text: each fire is a later second.
      EXPECT_LT(payload_time(events[i - 1].event.payload), payload_time(events[i].event.payload));
    }
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sprout::events
