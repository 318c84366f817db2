// File triggers end to end on real directories and a real event database,
// with a fake EventQueue that stores the cursor's transaction as the real
// queue does: what is delivered (once, with its S3 record), what is not,
// what survives a restart, and what a refusing queue does not lose.
#include "events/file/file_triggers.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/unique_fd.h"
#include "events/database.h"
#include "http/json.h"

namespace sprout::events {
namespace {

using namespace std::chrono_literals;

constexpr auto kDeadline = 30s;

// Stores events as the async queue does: the source's transaction runs
// inside the one that stores the event, on the queue's own connection.
class FakeQueue : public EventQueue {
 public:
  explicit FakeQueue(const std::string& database_path) {
    auto db = Database::open(database_path, Durability::kFull);
    EXPECT_TRUE(db);
    if (db) db_ = std::move(*db);
  }

  Enqueued enqueue(const NewEvent& event,
                   const std::function<Result<void>(Database&)>& same_transaction,
                   std::function<void(const api::InvokeResponse&)> /*finished*/) override {
    const std::lock_guard lock(mutex_);
    ++calls_;
    if (refusals_left_ > 0) {
      --refusals_left_;
      return {.status = api::THROTTLED, .error = "queue full", .request_id = ""};
    }
    auto transaction = db_->begin();
    if (!transaction) return {.status = api::INTERNAL, .error = transaction.error().message(), .request_id = ""};
    if (same_transaction) {
      if (auto moved = same_transaction(*db_); !moved)
        return {.status = api::INTERNAL, .error = moved.error().message(), .request_id = ""};
    }
    if (auto committed = transaction->commit(); !committed)
      return {.status = api::INTERNAL, .error = committed.error().message(), .request_id = ""};
    events_.push_back(event);
    changed_.notify_all();
    return {.status = api::OK, .error = "", .request_id = "req-" + std::to_string(events_.size())};
  }

  void refuse_next(int count) {
    const std::lock_guard lock(mutex_);
    refusals_left_ = count;
  }
  int calls() const {
    const std::lock_guard lock(mutex_);
    return calls_;
  }
  std::vector<NewEvent> events() const {
    const std::lock_guard lock(mutex_);
    return events_;
  }
  bool wait_for(const std::function<bool(const std::vector<NewEvent>&)>& done) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, kDeadline, [&] { return done(events_); });
  }

 private:
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  std::unique_ptr<Database> db_;
  std::vector<NewEvent> events_;
  int refusals_left_ = 0;
  int calls_ = 0;
};

// What a Python handler reads from the record.
struct Delivered {
  std::string bucket;
  std::string key;  // decoded as unquote_plus does
  std::string encoded_key;
  int64_t size = -1;
  std::string etag;
  std::string sequencer;
  std::string event_name;
};

std::string unquote_plus(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out.push_back(' ');
    } else if (text[i] == '%' && i + 2 < text.size()) {
      out.push_back(static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

Delivered parse_record(const std::string& payload) {
  Delivered delivered;
  const auto parsed = http::parse_json(payload);
  EXPECT_TRUE(parsed) << payload;
  if (!parsed) return delivered;
  const auto* records = parsed->find("Records");
  EXPECT_TRUE(records && records->items().size() == 1) << payload;
  if (!records || records->items().size() != 1) return delivered;
  const auto& record = records->items()[0];
  const auto& s3 = *record.find("s3");
  delivered.event_name = record.find("eventName")->as_string();
  delivered.bucket = s3.find("bucket")->find("name")->as_string();
  const auto& object = *s3.find("object");
  delivered.encoded_key = object.find("key")->as_string();
  delivered.key = unquote_plus(delivered.encoded_key);
  delivered.size = object.find("size")->as_integer().value_or(-1);
  delivered.etag = object.find("eTag")->as_string();
  delivered.sequencer = object.find("sequencer")->as_string();
  return delivered;
}

std::string md5_hex(const std::string& content) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int length = 0;
  EVP_Digest(content.data(), content.size(), md.data(), &length, EVP_md5(), nullptr);
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    static constexpr char kDigits[] = "0123456789abcdef";
    hex.push_back(kDigits[md[i] >> 4]);
    hex.push_back(kDigits[md[i] & 0xf]);
  }
  return hex;
}

// open, write, close: one IN_CLOSE_WRITE.
void write_file(const std::string& path, const std::string& content) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  ASSERT_TRUE(fd) << path;
  ASSERT_EQ(::write(fd.get(), content.data(), content.size()), static_cast<ssize_t>(content.size()));
}

class FileTriggersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/sprout-test-filetrig-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    base_ = dir;
    watched_ = base_ + "/inbox";
    ASSERT_EQ(mkdir(watched_.c_str(), 0755), 0);
    database_ = base_ + "/events.db";
    queue_ = std::make_unique<FakeQueue>(database_);
  }
  void TearDown() override {
    triggers_.reset();
    queue_.reset();
    std::filesystem::remove_all(base_);
  }

  void open_triggers() {
    FileTriggers::Options options;
    options.database_path = database_;
    options.trigger.settle = kSettle;
    options.trigger.retry_initial = 20ms;
    options.trigger.retry_max = 200ms;
    options.trigger.reopen_interval = 100ms;
    options.trigger.max_hashed_bytes = max_hashed_bytes_;
    FileTriggers::Hooks hooks{
        .function_exists = [](const std::string& name) { return name == "fn" || name == "other"; },
        .mounts_changed = [this](const std::string& function) {
          const std::lock_guard lock(mounts_mutex_);
          ++mounts_changed_[function];
        },
    };
    auto opened = FileTriggers::open(options, *queue_, hooks);
    ASSERT_TRUE(opened) << opened.error().message();
    triggers_ = std::move(*opened);
  }

  api::Trigger add(const std::string& id, const std::string& prefix = "",
                   const std::string& suffix = "") {
    api::Trigger trigger;
    trigger.set_id(id);
    trigger.set_function("fn");
    trigger.mutable_file()->set_watch_dir(watched_);
    trigger.mutable_file()->set_prefix(prefix);
    trigger.mutable_file()->set_suffix(suffix);
    auto added = triggers_->add(trigger);
    EXPECT_TRUE(added) << added.error().message;
    return added ? *added : api::Trigger();
  }

  std::vector<std::string> delivered_keys() const {
    std::vector<std::string> keys;
    for (const NewEvent& event : queue_->events()) keys.push_back(parse_record(event.payload).key);
    return keys;
  }
  size_t count_of(const std::string& key) const {
    const auto keys = delivered_keys();
    return static_cast<size_t>(std::count(keys.begin(), keys.end(), key));
  }
  bool wait_for_key(const std::string& key, size_t times = 1) {
    return queue_->wait_for([&](const std::vector<NewEvent>& events) {
      size_t seen = 0;
      for (const NewEvent& event : events) seen += parse_record(event.payload).key == key ? 1 : 0;
      return seen >= times;
    });
  }
  // Lets anything still settling or retrying come out, then writes a marker
  // file and waits for it: whatever was to be delivered before it is in.
  void drain(const std::string& marker = "zz-marker.txt") {
    std::this_thread::sleep_for(kSettle * 3);
    const size_t times = ++marker_counts_[marker];
    // Another size each time, so that each write is a new version.
    write_file(watched_ + "/" + marker, std::string(times, 'm'));
    ASSERT_TRUE(wait_for_key(marker, times));
  }
  // The first trigger's count, once it reaches `count`: the trigger counts
  // an event when the queue has answered, just after the queue has it.
  uint64_t delivered_count(uint64_t count) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    while (triggers_->list("")[0].delivered() < count && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(10ms);
    return triggers_->list("")[0].delivered();
  }
  int64_t cursor_rows() {
    auto db = Database::open(database_, Durability::kNormal);
    EXPECT_TRUE(db);
    auto count = (*db)->prepare("SELECT COUNT(*) FROM file_delivered");
    EXPECT_TRUE(count && *count->step());
    return count->column_int(0);
  }

  // The first trigger's state, once `done` holds for it (or the deadline).
  std::string wait_for_state(const std::function<bool(const std::string&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kDeadline;
    std::string state = triggers_->list("")[0].state();
    while (!done(state) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(10ms);
      state = triggers_->list("")[0].state();
    }
    return state;
  }

  static constexpr std::chrono::milliseconds kSettle = 300ms;
  uint64_t max_hashed_bytes_ = uint64_t{1} << 30;
  std::string base_;
  std::string watched_;
  std::string database_;
  std::unique_ptr<FakeQueue> queue_;
  std::unique_ptr<FileTriggers> triggers_;
  std::mutex mounts_mutex_;
  std::map<std::string, int> mounts_changed_;
  std::map<std::string, size_t> marker_counts_;
};

TEST_F(FileTriggersTest, DeliversAWrittenFileOnceWithItsS3Record) {
  open_triggers();
  triggers_->start();
  const api::Trigger trigger = add("uploads");
  EXPECT_EQ(trigger.file().bucket(), "inbox");
  const std::string content = "hello, objects";
  write_file(watched_ + "/hello world.txt", content);
  ASSERT_TRUE(wait_for_key("hello world.txt"));
  drain();
  const auto events = queue_->events();
  ASSERT_EQ(events.size(), 2u) << "the file and the marker, each once";
  EXPECT_EQ(events[0].function, "fn");
  EXPECT_EQ(events[0].source, api::FILE);
  EXPECT_EQ(events[0].source_id, "uploads");
  const Delivered record = parse_record(events[0].payload);
  EXPECT_EQ(record.event_name, "ObjectCreated:Put");
  EXPECT_EQ(record.bucket, "inbox");
  EXPECT_EQ(record.encoded_key, "hello+world.txt");
  EXPECT_EQ(record.size, static_cast<int64_t>(content.size()));
  EXPECT_EQ(record.etag, md5_hex(content));
  EXPECT_LT(record.sequencer, parse_record(events[1].payload).sequencer);
  const auto listed = triggers_->list("fn");
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].state(), "active");
  EXPECT_EQ(delivered_count(2), 2u);
  EXPECT_GT(listed[0].created_unix_ms(), 0);
  EXPECT_EQ(cursor_rows(), 2);
}

TEST_F(FileTriggersTest, KeysWithOddCharactersDecodeBack) {
  open_triggers();
  triggers_->start();
  add("odd");
  const std::vector<std::string> names = {"a+b #1 100%.txt", "caf\xc3\xa9 \xe6\x97\xa5.txt",
                                          "q?x=1&y=2", "semi;colon,'quote'"};
  for (const std::string& name : names) write_file(watched_ + "/" + name, name);
  for (const std::string& name : names) ASSERT_TRUE(wait_for_key(name)) << name;
  for (const NewEvent& event : queue_->events()) {
    const Delivered record = parse_record(event.payload);
    EXPECT_EQ(record.etag, md5_hex(record.key)) << "content is the name";
    EXPECT_EQ(record.encoded_key.find(' '), std::string::npos);
  }
}

TEST_F(FileTriggersTest, DeliversFilesAndDirectoriesMovedIn) {
  open_triggers();
  triggers_->start();
  add("moves");
  write_file(base_ + "/staged.csv", "a,b\n");
  std::filesystem::rename(base_ + "/staged.csv", watched_ + "/moved.csv");
  std::filesystem::create_directories(base_ + "/batch/day1");
  write_file(base_ + "/batch/day1/one.csv", "1");
  write_file(base_ + "/batch/two.csv", "2");
  std::filesystem::rename(base_ + "/batch", watched_ + "/batch");
  ASSERT_TRUE(wait_for_key("moved.csv"));
  ASSERT_TRUE(wait_for_key("batch/day1/one.csv"));
  ASSERT_TRUE(wait_for_key("batch/two.csv"));
  drain();
  EXPECT_EQ(queue_->events().size(), 4u);
}

TEST_F(FileTriggersTest, NestedDirectoriesMadeAfterStartAreWatchedAtOnce) {
  open_triggers();
  triggers_->start();
  add("nested");
  // mkdir -p and a file at once, many times: the file is made before the
  // new directories' watches exist; the scan of each new directory finds it.
  constexpr int kTrees = 20;
  for (int i = 0; i < kTrees; ++i) {
    const std::string dir = watched_ + "/t" + std::to_string(i) + "/b/c";
    std::filesystem::create_directories(dir);
    write_file(dir + "/f.txt", std::to_string(i));
  }
  for (int i = 0; i < kTrees; ++i) ASSERT_TRUE(wait_for_key("t" + std::to_string(i) + "/b/c/f.txt"));
  // A second file in each, through the watches now in place.
  for (int i = 0; i < kTrees; ++i)
    write_file(watched_ + "/t" + std::to_string(i) + "/b/c/g.txt", "g");
  for (int i = 0; i < kTrees; ++i) ASSERT_TRUE(wait_for_key("t" + std::to_string(i) + "/b/c/g.txt"));
  drain();
  std::string seen;
  for (const NewEvent& event : queue_->events()) {
    const Delivered record = parse_record(event.payload);
    seen += record.key + " (" + std::to_string(record.size) + " bytes) ";
  }
  EXPECT_EQ(queue_->events().size(), 2u * kTrees + 1) << "each file once: " << seen;
}

TEST_F(FileTriggersTest, FiltersOnPrefixAndSuffixOfTheKey) {
  open_triggers();
  triggers_->start();
  add("filtered", "in/", ".csv");
  std::filesystem::create_directories(watched_ + "/in/sub");
  std::filesystem::create_directories(watched_ + "/out");
  write_file(watched_ + "/in/yes.csv", "1");
  write_file(watched_ + "/in/sub/deep.csv", "2");
  write_file(watched_ + "/in/no.txt", "3");
  write_file(watched_ + "/out/no.csv", "4");
  write_file(watched_ + "/top.csv", "5");
  std::this_thread::sleep_for(kSettle * 3);
  write_file(watched_ + "/in/zz-marker.csv", "m");
  ASSERT_TRUE(wait_for_key("in/zz-marker.csv"));
  const auto keys = delivered_keys();
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()),
            (std::set<std::string>{"in/yes.csv", "in/sub/deep.csv", "in/zz-marker.csv"}));
  EXPECT_EQ(keys.size(), 3u);
}

TEST_F(FileTriggersTest, FilesWrittenWhileDownAreDeliveredOnceAfterStart) {
  open_triggers();
  triggers_->start();
  add("durable");
  write_file(watched_ + "/before.txt", "old");
  ASSERT_TRUE(wait_for_key("before.txt"));
  triggers_.reset();  // sproutd stops
  write_file(watched_ + "/while-down-1.txt", "a");
  std::filesystem::create_directories(watched_ + "/new/dir");
  write_file(watched_ + "/new/dir/while-down-2.txt", "b");
  queue_ = std::make_unique<FakeQueue>(database_);  // a fresh process
  open_triggers();
  const auto loaded = triggers_->list("");
  ASSERT_EQ(loaded.size(), 1u);
  EXPECT_EQ(loaded[0].state(), "stopped");
  EXPECT_EQ(loaded[0].delivered(), 1u) << "the count is persisted";
  triggers_->start();
  ASSERT_TRUE(wait_for_key("while-down-1.txt"));
  ASSERT_TRUE(wait_for_key("new/dir/while-down-2.txt"));
  drain();
  const auto keys = delivered_keys();
  EXPECT_EQ(keys.size(), 3u);
  EXPECT_EQ(count_of("before.txt"), 0u) << "delivered before the restart: not again";
  EXPECT_EQ(delivered_count(4), 4u);
}

TEST_F(FileTriggersTest, ARewrittenFileIsANewPut) {
  open_triggers();
  triggers_->start();
  add("rewrites");
  const std::string path = watched_ + "/report.json";
  write_file(path, "{\"v\": 1}");
  ASSERT_TRUE(wait_for_key("report.json"));
  write_file(path, "{\"v\": 22}");  // another size
  ASSERT_TRUE(wait_for_key("report.json", 2));
  // Replaced by a rename: another inode, same content.
  write_file(base_ + "/report.json", "{\"v\": 22}");
  std::filesystem::rename(base_ + "/report.json", path);
  ASSERT_TRUE(wait_for_key("report.json", 3));
  drain();
  std::vector<std::string> etags;
  for (const NewEvent& event : queue_->events()) {
    const Delivered record = parse_record(event.payload);
    if (record.key == "report.json") etags.push_back(record.etag);
  }
  ASSERT_EQ(etags.size(), 3u);
  EXPECT_EQ(etags[0], md5_hex("{\"v\": 1}"));
  EXPECT_EQ(etags[1], md5_hex("{\"v\": 22}"));
  EXPECT_EQ(etags[2], md5_hex("{\"v\": 22}"));
}

TEST_F(FileTriggersTest, IgnoresSymlinksAndFifosButTakesHardLinks) {
  std::filesystem::create_directories(base_ + "/outside/dir");
  write_file(base_ + "/outside/secret", "not yours");
  write_file(base_ + "/outside/dir/also-secret", "not yours either");
  write_file(base_ + "/outside/shared", "linked");
  open_triggers();
  triggers_->start();
  add("links");
  ASSERT_EQ(symlink((base_ + "/outside/secret").c_str(), (watched_ + "/file-link").c_str()), 0);
  ASSERT_EQ(symlink((base_ + "/outside/dir").c_str(), (watched_ + "/dir-link").c_str()), 0);
  ASSERT_EQ(mkfifo((watched_ + "/pipe").c_str(), 0644), 0);
  ASSERT_EQ(link((base_ + "/outside/shared").c_str(), (watched_ + "/hard-link").c_str()), 0);
  // A symlink moved in, and one swapped in for a written file's name.
  ASSERT_EQ(symlink((base_ + "/outside/secret").c_str(), (base_ + "/staged-link").c_str()), 0);
  std::filesystem::rename(base_ + "/staged-link", watched_ + "/moved-link");
  ASSERT_TRUE(wait_for_key("hard-link"));
  drain();
  const auto keys = delivered_keys();
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()),
            (std::set<std::string>{"hard-link", "zz-marker.txt"}));
  EXPECT_EQ(keys.size(), 2u);
  // A restart's full scan does not take them either.
  triggers_.reset();
  open_triggers();
  triggers_->start();
  drain("zz-marker-2.txt");
  EXPECT_EQ(queue_->events().size(), 3u);
}

TEST_F(FileTriggersTest, ARefusingQueueDelaysButLosesNothing) {
  open_triggers();
  triggers_->start();
  add("throttled");
  queue_->refuse_next(4);
  write_file(watched_ + "/a.txt", "a");
  write_file(watched_ + "/b.txt", "b");
  ASSERT_TRUE(wait_for_key("a.txt"));
  ASSERT_TRUE(wait_for_key("b.txt"));
  EXPECT_GE(queue_->calls(), 6) << "four refusals, then both";
  drain();
  EXPECT_EQ(queue_->events().size(), 3u);
  EXPECT_EQ(triggers_->list("fn")[0].state(), "active");
}

TEST_F(FileTriggersTest, TheStateSaysWhileTheQueueRefuses) {
  open_triggers();
  triggers_->start();
  add("refused");
  queue_->refuse_next(1000000);
  write_file(watched_ + "/waiting.txt", "w");
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (triggers_->list("fn")[0].state().find("THROTTLED") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_NE(triggers_->list("fn")[0].state().find("THROTTLED"), std::string::npos)
      << triggers_->list("fn")[0].state();
  EXPECT_TRUE(queue_->events().empty());
  queue_->refuse_next(0);
  ASSERT_TRUE(wait_for_key("waiting.txt"));
}

TEST_F(FileTriggersTest, AWatchDirectoryMissingAtStartIsPickedUpWhenBack) {
  open_triggers();
  add("comes-back");
  std::filesystem::rename(watched_, base_ + "/parked");
  triggers_->start();
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (triggers_->list("")[0].state().find("missing") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(10ms);
  EXPECT_NE(triggers_->list("")[0].state().find("missing"), std::string::npos);
  write_file(base_ + "/parked/arrived.txt", "x");
  std::filesystem::rename(base_ + "/parked", watched_);
  ASSERT_TRUE(wait_for_key("arrived.txt"));
  EXPECT_EQ(triggers_->list("")[0].state(), "active");
}

TEST_F(FileTriggersTest, AddRefusesWhatCannotWork) {
  open_triggers();
  api::Trigger trigger;
  trigger.set_function("fn");
  trigger.mutable_file()->set_watch_dir(watched_);
  auto refused = [&](const api::Trigger& t) {
    auto added = triggers_->add(t);
    return added ? api::STATUS_UNSPECIFIED : added.error().status;
  };
  api::Trigger unknown = trigger;
  unknown.set_function("missing");
  EXPECT_EQ(refused(unknown), api::NOT_FOUND);
  api::Trigger bad_id = trigger;
  bad_id.set_id("has space");
  EXPECT_EQ(refused(bad_id), api::INVALID_ARGUMENT);
  api::Trigger nats = trigger;
  nats.mutable_nats()->set_url("nats://127.0.0.1:4222");
  EXPECT_EQ(refused(nats), api::INVALID_ARGUMENT);
  api::Trigger relative = trigger;
  relative.mutable_file()->set_watch_dir("inbox");
  EXPECT_EQ(refused(relative), api::INVALID_ARGUMENT);
  api::Trigger proc = trigger;
  proc.mutable_file()->set_watch_dir("/proc");
  proc.mutable_file()->set_bucket("procfs");
  EXPECT_EQ(refused(proc), api::INVALID_ARGUMENT);
  api::Trigger no_function = trigger;
  no_function.clear_function();
  EXPECT_EQ(refused(no_function), api::INVALID_ARGUMENT);

  api::Trigger first = trigger;
  first.set_id("first");
  ASSERT_TRUE(triggers_->add(first));
  EXPECT_EQ(refused(first), api::INVALID_ARGUMENT) << "the id is taken";
  // Another directory under the same bucket name, for the same function.
  std::filesystem::create_directories(base_ + "/elsewhere/inbox");
  api::Trigger clash = trigger;
  clash.mutable_file()->set_watch_dir(base_ + "/elsewhere/inbox");
  auto clashing = triggers_->add(clash);
  ASSERT_FALSE(clashing);
  EXPECT_NE(clashing.error().message.find("--bucket"), std::string::npos);
  // ... is fine under another bucket name, or for another function.
  clash.mutable_file()->set_bucket("inbox-2");
  EXPECT_TRUE(triggers_->add(clash));
  api::Trigger other = trigger;
  other.set_function("other");
  other.mutable_file()->set_watch_dir(base_ + "/elsewhere/inbox");
  EXPECT_TRUE(triggers_->add(other));
  // The same directory and bucket again (another filter): one mount.
  api::Trigger again = trigger;
  again.mutable_file()->set_suffix(".png");
  auto generated = triggers_->add(again);
  ASSERT_TRUE(generated);
  EXPECT_FALSE(generated->id().empty());
  EXPECT_EQ(triggers_->mounts_of("fn"),
            (std::vector<FileMount>{{base_ + "/elsewhere/inbox", "inbox-2"}, {watched_, "inbox"}}));
  EXPECT_EQ(triggers_->mounts_of("other"), (std::vector<FileMount>{{base_ + "/elsewhere/inbox", "inbox"}}));
  EXPECT_EQ(triggers_->list("fn").size(), 3u);
  EXPECT_EQ(triggers_->list("").size(), 4u);
  const std::lock_guard lock(mounts_mutex_);
  EXPECT_EQ(mounts_changed_["fn"], 2) << "first and the inbox-2 mount; the .png one changed nothing";
  EXPECT_EQ(mounts_changed_["other"], 1);
}

TEST_F(FileTriggersTest, RemoveStopsTheTriggerAndForgetsItsCursor) {
  open_triggers();
  triggers_->start();
  add("gone");
  api::Trigger other;
  other.set_id("other-trigger");
  other.set_function("other");
  other.mutable_file()->set_watch_dir(watched_);
  ASSERT_TRUE(triggers_->add(other));
  write_file(watched_ + "/one.txt", "1");
  ASSERT_TRUE(wait_for_key("one.txt", 2));
  EXPECT_EQ(cursor_rows(), 2);
  ASSERT_TRUE(triggers_->remove("gone"));
  EXPECT_EQ(triggers_->remove("gone").error().status, api::NOT_FOUND);
  EXPECT_FALSE(triggers_->contains("gone"));
  EXPECT_EQ(cursor_rows(), 1);
  EXPECT_TRUE(triggers_->mounts_of("fn").empty());
  write_file(watched_ + "/two.txt", "2");
  ASSERT_TRUE(wait_for_key("two.txt"));
  drain();
  for (const NewEvent& event : queue_->events())
    if (parse_record(event.payload).key != "one.txt") {
      EXPECT_EQ(event.source_id, "other-trigger");
    }
  ASSERT_TRUE(triggers_->remove_function("other"));
  EXPECT_TRUE(triggers_->list("").empty());
  EXPECT_EQ(cursor_rows(), 0);
  // Gone for good: a restart loads nothing.
  triggers_.reset();
  open_triggers();
  EXPECT_TRUE(triggers_->list("").empty());
  const std::lock_guard lock(mounts_mutex_);
  EXPECT_EQ(mounts_changed_["fn"], 2);
  EXPECT_EQ(mounts_changed_["other"], 2);
}

TEST_F(FileTriggersTest, ADirectoryOfThePathSwappedForASymlinkIsNeverFollowed) {
  // The attack: race/A/x/inbox watched; A/x becomes a symlink to B/x, whose
  // inbox holds a root-only file. Nothing of B may be delivered.
  std::filesystem::create_directories(base_ + "/A/x/inbox");
  std::filesystem::create_directories(base_ + "/B/x/inbox");
  UniqueFd secret(::open((base_ + "/B/x/inbox/victim-secret.txt").c_str(),
                         O_WRONLY | O_CREAT | O_CLOEXEC, 0600));
  ASSERT_TRUE(secret);
  secret.reset();
  watched_ = base_ + "/A/x/inbox";
  open_triggers();
  add("swapped");
  triggers_->start();
  drain();
  std::filesystem::rename(base_ + "/A/x", base_ + "/A/x-real");
  ASSERT_EQ(symlink("../B/x", (base_ + "/A/x").c_str()), 0);
  // Noticed without any event in the tree (a directory above it changed).
  const std::string refused =
      wait_for_state([](const std::string& state) { return state.find("refusing") != std::string::npos; });
  EXPECT_NE(refused.find("refusing to follow"), std::string::npos) << refused;
  write_file(base_ + "/B/x/inbox/late-secret.txt", "secret");
  write_file(base_ + "/A/x-real/inbox/while-refused.txt", "x");
  // Moving the inbox away and back makes it reopen: still refused.
  std::filesystem::rename(base_ + "/A/x-real/inbox", base_ + "/A/x-real/away");
  std::filesystem::rename(base_ + "/A/x-real/away", base_ + "/A/x-real/inbox");
  // Back as it was: it runs again, and takes what arrived meanwhile.
  std::filesystem::remove(base_ + "/A/x");
  std::filesystem::rename(base_ + "/A/x-real", base_ + "/A/x");
  ASSERT_TRUE(wait_for_key("while-refused.txt"));
  drain();
  EXPECT_EQ(count_of("victim-secret.txt"), 0u);
  EXPECT_EQ(count_of("late-secret.txt"), 0u);
  for (const NewEvent& event : queue_->events())
    EXPECT_EQ(parse_record(event.payload).key.find("secret"), std::string::npos);
}

TEST_F(FileTriggersTest, AFileOverTheHashCapGetsAnETagThatIsNoMd5) {
  max_hashed_bytes_ = 1000;
  open_triggers();
  add("capped");
  triggers_->start();
  write_file(watched_ + "/small.txt", std::string(1000, 's'));
  write_file(watched_ + "/large.bin", std::string(1001, 'l'));
  ASSERT_TRUE(wait_for_key("small.txt"));
  ASSERT_TRUE(wait_for_key("large.bin"));
  for (const NewEvent& event : queue_->events()) {
    const Delivered delivered = parse_record(event.payload);
    if (delivered.key == "small.txt") {
      EXPECT_EQ(delivered.etag, md5_hex(std::string(1000, 's')));
    }
    if (delivered.key != "large.bin") continue;
    EXPECT_EQ(delivered.size, 1001);
    EXPECT_NE(delivered.etag, md5_hex(std::string(1001, 'l')));
    EXPECT_TRUE(delivered.etag.ends_with("-1")) << delivered.etag;
    EXPECT_EQ(delivered.etag.size(), 34u) << delivered.etag;
  }
}

TEST_F(FileTriggersTest, AHugeFileBeingHashedBlocksNeitherListNorRemove) {
  max_hashed_bytes_ = UINT64_MAX;  // no cap: the stop check alone must end it
  open_triggers();
  add("huge");
  triggers_->start();
  drain();
  const std::string huge = watched_ + "/huge.bin";
  {
    UniqueFd fd(::open(huge.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
    ASSERT_TRUE(fd);
    ASSERT_EQ(ftruncate(fd.get(), off_t{1} << 40), 0);  // 1 TiB, sparse: minutes of MD5
  }
  // Hashing has begun once the trigger holds the file open.
  auto holds_it_open = [&] {
    for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code error;
      if (std::filesystem::read_symlink(entry.path(), error) == huge) return true;
    }
    return false;
  };
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (!holds_it_open() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(5ms);
  ASSERT_TRUE(holds_it_open());
  auto started = std::chrono::steady_clock::now();
  EXPECT_EQ(triggers_->list("").size(), 1u);
  ASSERT_TRUE(triggers_->remove("huge"));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 10s);
  EXPECT_TRUE(triggers_->list("").empty());
  EXPECT_EQ(count_of("huge.bin"), 0u);
}

TEST_F(FileTriggersTest, AFunctionGetsNoMoreMountsThanASandboxTakes) {
  open_triggers();
  for (int i = 0; i < 8; ++i) {
    const std::string dir = base_ + "/dir" + std::to_string(i);
    ASSERT_EQ(mkdir(dir.c_str(), 0755), 0);
    api::Trigger trigger;
    trigger.set_function("fn");
    trigger.mutable_file()->set_watch_dir(dir);
    auto added = triggers_->add(trigger);
    ASSERT_TRUE(added) << added.error().message;
  }
  // A 9th mount would make the sandbox refuse them all.
  api::Trigger ninth;
  ninth.set_function("fn");
  ninth.mutable_file()->set_watch_dir(watched_);
  auto refused = triggers_->add(ninth);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().status, api::INVALID_ARGUMENT);
  EXPECT_NE(refused.error().message.find("(8)"), std::string::npos) << refused.error().message;
  EXPECT_EQ(triggers_->mounts_of("fn").size(), 8u);
  // One of the 8 again (another filter) adds no mount; another function
  // has its own 8.
  api::Trigger same = ninth;
  same.mutable_file()->set_watch_dir(base_ + "/dir3");
  same.mutable_file()->set_suffix(".csv");
  EXPECT_TRUE(triggers_->add(same));
  ninth.set_function("other");
  EXPECT_TRUE(triggers_->add(ninth));
}

TEST_F(FileTriggersTest, TheStateCountsFilesSkippedForKeysS3Refuses) {
  open_triggers();
  add("odd-names");
  triggers_->start();
  write_file(watched_ + "/not-utf8-\xff.txt", "x");
  write_file(watched_ + "/latin1-\xe9t\xe9.txt", "x");
  write_file(watched_ + "/" + std::string(200, 'd'), "x");
  // 5 x 251 bytes: a key over S3's 1024.
  std::string deep = watched_;
  for (const char letter : {'a', 'b', 'c', 'e', 'f'}) deep += "/" + std::string(250, letter);
  std::filesystem::create_directories(deep);
  write_file(deep + "/too-long.txt", "x");
  drain();
  ASSERT_TRUE(wait_for_key(std::string(200, 'd')));
  const std::string state = wait_for_state(
      [](const std::string& state) { return state.find("3 files skipped") != std::string::npos; });
  EXPECT_EQ(state, "active; 3 files skipped: not valid S3 keys");
  // A skipped file seen again (rewritten) is not counted twice.
  write_file(watched_ + "/not-utf8-\xff.txt", "again");
  drain();
  EXPECT_EQ(wait_for_state([](const std::string&) { return true; }),
            "active; 3 files skipped: not valid S3 keys");
}

}  // namespace
}  // namespace sprout::events
