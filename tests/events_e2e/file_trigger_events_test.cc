// File triggers end to end, on the real sproutd and the real CLI: files
// closed after writing or moved into a watched directory (and directories
// made later beneath it) invoke the function once each with an S3
// ObjectCreated:Put record; the handler reads the file through the
// read-only mount /mnt/<bucket> and cannot write there; files that arrive
// while sproutd is down (stopped or killed) are delivered once after the
// restart; filters, refusals, `trigger rm`.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <stdexcept>

#include "tests/e2e/mini_json.h"
#include "tests/events_e2e/event_daemon.h"

namespace sprout::testing {
namespace {

// An S3 handler as users write them: it opens the object under
// /mnt/<bucket>, and reports what it saw, what it read, and what happened
// when it tried to write into the bucket.
constexpr const char* kReaderHandler = R"(import hashlib, urllib.parse
def handler(event, context):
    records = event["Records"]
    record = records[0]
    s3 = record["s3"]
    bucket = s3["bucket"]["name"]
    key = urllib.parse.unquote_plus(s3["object"]["key"])
    seen = {"records": len(records), "key": key, "raw_key": s3["object"]["key"],
            "size": s3["object"]["size"], "etag": s3["object"]["eTag"],
            "sequencer": s3["object"]["sequencer"], "bucket": bucket,
            "event_name": record["eventName"], "event_source": record["eventSource"]}
    try:
        with open("/mnt/%s/%s" % (bucket, key), "rb") as f:
            data = f.read()
        seen["content"] = data.decode()
        seen["md5"] = hashlib.md5(data).hexdigest()
    except OSError as e:
        seen["read_error"] = type(e).__name__
    try:
        with open("/mnt/%s/written-by-the-handler" % bucket, "w") as f:
            f.write("x")
        seen["write_errno"] = 0
    except OSError as e:
        seen["write_errno"] = e.errno
    return seen
)";

constexpr int kErofs = 30;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

int64_t median(std::vector<int64_t> values) {
  if (values.empty()) return -1;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

// open, write, close (as a program writing a file does), with `mode`
// exactly (no umask); the Unix ms after the close.
int64_t write_file(const std::string& path, const std::string& content, mode_t mode = 0644) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("open " + path);
  if (fchmod(fd, mode) != 0 ||
      write(fd, content.data(), content.size()) != static_cast<ssize_t>(content.size())) {
    close(fd);
    throw std::runtime_error("write " + path);
  }
  close(fd);
  return now_ms();
}

// One delivery of a file, as the history shows it.
struct Delivery {
  api::HistoryEntry entry;
  Json seen;  // the handler's answer
};

class FileTriggerEventsTest : public EventDaemonTest {
 protected:
  // A directory to watch, writable by anyone, so that only the read-only
  // mount stops the handler's write.
  std::string make_watch_dir(const std::string& name) {
    std::string dir = dir_ + "/" + name;
    std::filesystem::create_directories(dir);
    chmod(dir.c_str(), 0777);
    return dir;
  }

  // The deliveries of trigger `id` in `function`'s history, oldest first.
  std::vector<Delivery> deliveries(const std::string& function, const std::string& id) {
    std::vector<Delivery> out;
    for (const auto& entry : history(function)) {
      if (entry.source() != api::FILE || entry.source_id() != id) continue;
      auto seen = Json::parse(entry.result());
      out.push_back({entry, seen ? *seen : Json()});
    }
    std::reverse(out.begin(), out.end());
    return out;
  }

  // Key -> how many OK deliveries.
  std::map<std::string, int> delivered_keys(const std::string& function, const std::string& id) {
    std::map<std::string, int> keys;
    for (const auto& d : deliveries(function, id))
      if (d.entry.status() == api::OK) ++keys[d.seen["key"].as_string()];
    return keys;
  }

  bool all_delivered(const std::string& function, const std::string& id,
                     const std::set<std::string>& keys) {
    auto got = delivered_keys(function, id);
    return std::all_of(keys.begin(), keys.end(), [&](const auto& k) { return got.contains(k); });
  }

  // `trigger ls --json`'s record of `id` (null if not listed).
  Json listed_trigger(const std::string& id) {
    const Json listed = cli_json({"trigger", "ls"});
    for (const auto& trigger : listed["triggers"].items())
      if (trigger["id"].as_string() == id) return trigger;
    return Json();
  }

  // What a delivery of a readable file must show.
  static void expect_read_as_written(const Delivery& d, const std::string& bucket,
                                     const std::string& content) {
    SCOPED_TRACE(d.seen.dump());
    EXPECT_EQ(d.entry.status(), api::OK) << d.entry.error_message();
    EXPECT_EQ(d.seen["records"].as_int(), 1);
    EXPECT_EQ(d.seen["event_name"].as_string(), "ObjectCreated:Put");
    EXPECT_EQ(d.seen["event_source"].as_string(), "aws:s3");
    EXPECT_EQ(d.seen["bucket"].as_string(), bucket);
    EXPECT_EQ(d.seen["content"].as_string(), content) << "the handler read other content";
    EXPECT_EQ(d.seen["size"].as_int(), static_cast<int64_t>(content.size()));
    EXPECT_EQ(d.seen["etag"].as_string(), d.seen["md5"].as_string()) << "eTag is the MD5";
    EXPECT_EQ(d.seen["write_errno"].as_int(), kErofs) << "the bucket must be mounted read-only";
  }

  void deploy_reader(const std::string& name) {
    deploy_python(name, kReaderHandler, {"--timeout-ms", "20000"});
  }

  void files_arriving_while_down(bool kill9);
};

// Provokes: a file written in place, one whose name needs URL-encoding, one
// renamed into the directory, one in a subdirectory made after the trigger,
// then a rewrite of the first. Expected: each delivered exactly once (the
// rewrite once more), source FILE with the trigger's id, with key, size and
// eTag = MD5 of the content the handler read through /mnt/<bucket>; the
// handler's write there fails with EROFS; `trigger ls` counts them.
TEST_F(FileTriggerEventsTest, FilesWrittenMovedInAndInNewSubdirectoriesAreEachDeliveredOnce) {
  start_event_daemon();
  deploy_reader("reader");
  const std::string watch = make_watch_dir("uploads");
  const Json added = cli_json({"trigger", "add", "reader", "--watch", watch, "--id", "up"});
  const Json& trigger = added["trigger"];
  EXPECT_EQ(trigger["id"].as_string(), "up");
  EXPECT_EQ(trigger["function"].as_string(), "reader");
  EXPECT_EQ(trigger["kind"].as_string(), "file");
  EXPECT_EQ(trigger["file"]["watch_dir"].as_string(), watch);
  EXPECT_EQ(trigger["file"]["bucket"].as_string(), "uploads") << "the directory's name";
  EXPECT_EQ(trigger["delivered"].as_int(), 0);
  ASSERT_TRUE(eventually([&] { return listed_trigger("up")["state"].as_string() == "active"; }))
      << listed_trigger("up").dump();

  std::map<std::string, int64_t> written_at;  // key -> Unix ms it was complete
  written_at["a.txt"] = write_file(watch + "/a.txt", "alpha\n");
  written_at["with space+plus.txt"] = write_file(watch + "/with space+plus.txt", "spaced\n");
  write_file(dir_ + "/staging/b.txt", "moved in\n");
  ASSERT_EQ(rename((dir_ + "/staging/b.txt").c_str(), (watch + "/b.txt").c_str()), 0);
  written_at["b.txt"] = now_ms();
  std::filesystem::create_directories(watch + "/sub/deeper");
  written_at["sub/deeper/c.txt"] = write_file(watch + "/sub/deeper/c.txt", "nested\n");
  const std::map<std::string, std::string> contents = {{"a.txt", "alpha\n"},
                                                       {"with space+plus.txt", "spaced\n"},
                                                       {"b.txt", "moved in\n"},
                                                       {"sub/deeper/c.txt", "nested\n"}};

  ASSERT_TRUE(eventually([&] {
    return all_delivered("reader", "up", {"a.txt", "with space+plus.txt", "b.txt", "sub/deeper/c.txt"});
  })) << "not every file was delivered";
  // The count moves with each event stored: a file enqueued twice shows.
  EXPECT_EQ(listed_trigger("up")["delivered"].as_int(), 4);
  std::vector<int64_t> latencies;
  std::set<std::string> sequencers;
  for (const auto& d : deliveries("reader", "up")) {
    EXPECT_EQ(d.entry.source_id(), "up");
    const std::string key = d.seen["key"].as_string();
    ASSERT_TRUE(contents.contains(key)) << "an unexpected file: " << d.seen.dump();
    expect_read_as_written(d, "uploads", contents.at(key));
    sequencers.insert(d.seen["sequencer"].as_string());
    latencies.push_back(d.entry.start_unix_ms() - written_at[key]);
  }
  EXPECT_EQ(sequencers.size(), 4u) << "every event has a sequencer of its own";
  for (const auto& [key, count] : delivered_keys("reader", "up"))
    EXPECT_EQ(count, 1) << key << " delivered " << count << " times";
  for (const auto& d : deliveries("reader", "up")) {
    if (d.seen["key"].as_string() == "with space+plus.txt") {
      EXPECT_EQ(d.seen["raw_key"].as_string(), "with+space%2Bplus.txt") << "S3's URL-encoding";
    }
  }
  EXPECT_FALSE(std::filesystem::exists(watch + "/written-by-the-handler"));
  std::cout << "[latency] file closed -> handler start, median over " << latencies.size()
            << " files: " << median(latencies) << " ms (max "
            << *std::max_element(latencies.begin(), latencies.end()) << ")\n";

  CommandResult table = sprout({"trigger", "ls", "reader"});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  for (const std::string& part : std::vector<std::string>{"DELIVERED", "up ", "reader", "file", "dir=" + watch, "bucket=uploads", "active"})
    EXPECT_NE(table.out.find(part), std::string::npos) << part << " not in\n" << table.out;

  // A new version of a file is a new object: delivered again, once.
  const int64_t rewritten = write_file(watch + "/a.txt", "alpha, again\n");
  ASSERT_TRUE(eventually([&] { return delivered_keys("reader", "up")["a.txt"] >= 2; }))
      << "the rewritten file was not delivered";
  latencies.push_back(deliveries("reader", "up").back().entry.start_unix_ms() - rewritten);
  const Delivery last = deliveries("reader", "up").back();
  expect_read_as_written(last, "uploads", "alpha, again\n");
  EXPECT_EQ(listed_trigger("up")["delivered"].as_int(), 5);
  auto counts = delivered_keys("reader", "up");
  EXPECT_EQ(counts["a.txt"], 2);
  for (const char* key : {"with space+plus.txt", "b.txt", "sub/deeper/c.txt"})
    EXPECT_EQ(counts[key], 1) << key;
}

void FileTriggerEventsTest::files_arriving_while_down(bool kill9) {
  start_event_daemon();
  deploy_reader("reader");
  const std::string watch = make_watch_dir("inbox");
  cli_json({"trigger", "add", "reader", "--watch", watch, "--id", "in"});
  write_file(watch + "/before.txt", "before\n");
  ASSERT_TRUE(eventually([&] { return all_delivered("reader", "in", {"before.txt"}); }));
  if (kill9) {
    kill_daemon();
  } else {
    ASSERT_EQ(stop_daemon(), 0);
  }

  write_file(watch + "/down-1.txt", "written while down\n");
  write_file(dir_ + "/staging/down 2.txt", "moved in while down\n");
  ASSERT_EQ(rename((dir_ + "/staging/down 2.txt").c_str(), (watch + "/down 2.txt").c_str()), 0);
  write_file(watch + "/later/down-3.txt", "in a directory made while down\n");
  const int64_t restarted = now_ms();
  start_event_daemon();

  ASSERT_TRUE(eventually([&] {
    return all_delivered("reader", "in", {"down-1.txt", "down 2.txt", "later/down-3.txt"});
  })) << "files written while sproutd was down were not delivered after the restart";
  const std::map<std::string, std::string> contents = {
      {"before.txt", "before\n"},
      {"down-1.txt", "written while down\n"},
      {"down 2.txt", "moved in while down\n"},
      {"later/down-3.txt", "in a directory made while down\n"}};
  for (const auto& d : deliveries("reader", "in")) {
    const std::string key = d.seen["key"].as_string();
    ASSERT_TRUE(contents.contains(key)) << d.seen.dump();
    expect_read_as_written(d, "inbox", contents.at(key));
    if (key != "before.txt")
      std::cout << "[latency] file written while down -> handler start "
                << d.entry.start_unix_ms() - restarted << " ms after the restart began\n";
  }
  // The persisted count: one delivery before, three after; none twice.
  EXPECT_EQ(listed_trigger("in")["delivered"].as_int(), 4);
  for (const auto& [key, count] : delivered_keys("reader", "in"))
    EXPECT_EQ(count, 1) << key << " delivered " << count << " times";
}

// Provokes: files written, moved in and made in a new subdirectory while
// sproutd is stopped (SIGTERM). Expected: after the restart each of them is
// delivered once, the file delivered before the stop not again.
TEST_F(FileTriggerEventsTest, FilesArrivingWhileStoppedAreDeliveredOnceAfterRestart) {
  files_arriving_while_down(false);
}

// Provokes: the same while sproutd is killed (kill -9). Expected: the same.
TEST_F(FileTriggerEventsTest, FilesArrivingWhileKilledAreDeliveredOnceAfterRestart) {
  files_arriving_while_down(true);
}

// Provokes: a 0600 file and a 0644 one in the watched directory. Expected:
// both delivered; the handler (the function's own unprivileged host uid)
// reads the 0644 one and gets PermissionError on the 0600 one, as
// docs/events.md says (the mount is not a copy).
TEST_F(FileTriggerEventsTest, FileOnlyItsOwnerMayReadIsDeliveredButUnreadable) {
  start_event_daemon();
  deploy_reader("reader");
  const std::string watch = make_watch_dir("perms");
  cli_json({"trigger", "add", "reader", "--watch", watch, "--id", "perms"});
  write_file(watch + "/secret.txt", "secret\n", 0600);
  write_file(watch + "/public.txt", "public\n", 0644);
  ASSERT_TRUE(eventually([&] { return all_delivered("reader", "perms", {"secret.txt", "public.txt"}); }));
  for (const auto& d : deliveries("reader", "perms")) {
    if (d.seen["key"].as_string() == "public.txt") {
      expect_read_as_written(d, "perms", "public\n");
    } else {
      EXPECT_EQ(d.seen["read_error"].as_string(), "PermissionError") << d.seen.dump();
      EXPECT_EQ(d.seen["size"].as_int(), 7) << "sproutd itself read it for size and eTag";
      EXPECT_EQ(d.seen["etag"].as_string().size(), 32u) << d.seen.dump();
    }
  }
}

// Provokes: a trigger with --prefix in/ --suffix .csv; files that miss
// either, written before two that match. Expected: only the two matching
// ones are delivered (the trigger looks at files in the order they come,
// so the others were dropped before the matching ones were taken).
TEST_F(FileTriggerEventsTest, PrefixAndSuffixFilterTheKeys) {
  start_event_daemon();
  deploy_reader("reader");
  const std::string watch = make_watch_dir("data");
  const Json added = cli_json(
      {"trigger", "add", "reader", "--watch", watch, "--prefix", "in/", "--suffix", ".csv", "--id", "csv"});
  EXPECT_EQ(added["trigger"]["file"]["prefix"].as_string(), "in/");
  EXPECT_EQ(added["trigger"]["file"]["suffix"].as_string(), ".csv");
  ASSERT_TRUE(eventually([&] { return listed_trigger("csv")["state"].as_string() == "active"; }));
  std::filesystem::create_directories(watch + "/in/sub");
  std::filesystem::create_directories(watch + "/out");
  write_file(watch + "/a.csv", "no prefix\n");
  write_file(watch + "/incoming.csv", "in, but not in/\n");
  write_file(watch + "/in/b.txt", "wrong suffix\n");
  write_file(watch + "/out/c.csv", "other directory\n");
  write_file(watch + "/in/d.csv", "d\n");
  write_file(watch + "/in/sub/e.csv", "e\n");
  ASSERT_TRUE(eventually([&] { return all_delivered("reader", "csv", {"in/d.csv", "in/sub/e.csv"}); }));
  const auto got = delivered_keys("reader", "csv");
  EXPECT_EQ(got, (std::map<std::string, int>{{"in/d.csv", 1}, {"in/sub/e.csv", 1}}));
  EXPECT_EQ(listed_trigger("csv")["delivered"].as_int(), 2);
}

// Provokes: triggers on sproutd's own state directory (and a directory
// holding it), on a missing directory, on a file, on /proc, on a path with
// a symlink and on a relative path (through the API: the CLI makes paths
// absolute), for an unknown function, with a bad bucket. Expected: each
// refused with its reason and status; nothing stored.
TEST_F(FileTriggerEventsTest, BadWatchDirectoriesAreRefused) {
  start_event_daemon();
  deploy_reader("reader");
  const std::string watch = make_watch_dir("uploads");
  write_file(dir_ + "/a-file", "not a directory\n");
  expect_refused({"trigger", "add"}, {
      {{"reader", "--watch", state_}, 20, "sproutd's own"},
      {{"reader", "--watch", dir_}, 20, "sproutd's own"},
      {{"reader", "--watch", dir_ + "/run"}, 20, "sproutd's own"},
      {{"reader", "--watch", dir_ + "/missing"}, 1, dir_ + "/missing"},
      {{"reader", "--watch", dir_ + "/a-file"}, 1, "not a directory"},
      {{"reader", "--watch", "/proc"}, 20, "/proc"},
      {{"nope", "--watch", watch}, 19, "nope"},
      {{"reader", "--watch", watch, "--bucket", "Bad_Bucket"}, 20, "Bad_Bucket"},
  });

  // What the CLI would have made absolute or canonical, sent as it is.
  std::filesystem::create_directory_symlink(watch, dir_ + "/link");
  const std::vector<std::pair<std::string, std::string>> api_cases = {
      {"uploads", "absolute"},
      {"/definitely/not/there", "/definitely/not/there"},
      {dir_ + "/link", "canonical"},
      {watch + "/../uploads", "canonical"},
  };
  for (const auto& [dir, says] : api_cases) {
    api::Request request;
    auto* trigger = request.mutable_add_trigger()->mutable_trigger();
    trigger->set_function("reader");
    trigger->mutable_file()->set_watch_dir(dir);
    api::Response response = call(request);
    EXPECT_EQ(response.status(), api::INVALID_ARGUMENT) << dir << ": " << response.error();
    EXPECT_NE(response.error().find(says), std::string::npos) << dir << ": " << response.error();
  }
  EXPECT_EQ(cli_json({"trigger", "ls"})["triggers"].size(), 0u) << "a refused trigger was stored";
}

// Provokes: `trigger rm` of a function's trigger while another function
// watches the same directory, then deleting that other function.
// Expected: after the rm, files reach only the other function, and the
// removed trigger's mount leaves the function's sandboxes (a direct call
// can no longer read the file); deleting a function removes its triggers.
TEST_F(FileTriggerEventsTest, TriggerRmStopsDeliveryAndRemovesTheMount) {
  start_event_daemon();
  deploy_reader("reader");
  deploy_reader("witness");
  const std::string watch = make_watch_dir("shared");
  cli_json({"trigger", "add", "reader", "--watch", watch, "--id", "r"});
  cli_json({"trigger", "add", "witness", "--watch", watch, "--id", "w"});
  write_file(watch + "/a.txt", "first\n");
  ASSERT_TRUE(eventually([&] {
    return all_delivered("reader", "r", {"a.txt"}) && all_delivered("witness", "w", {"a.txt"});
  }));

  // A direct call with the same record reads the file while the mount is there.
  const std::string record = deliveries("reader", "r")[0].seen["raw_key"].as_string();
  auto read_directly = [&] {
    api::Request request;
    request.mutable_invoke()->set_function("reader");
    request.mutable_invoke()->set_payload(
        R"({"Records": [{"eventName": "ObjectCreated:Put", "eventSource": "aws:s3", "s3": {"bucket": {"name": "shared"}, "object": {"key": ")" +
        record + R"(", "size": 6, "eTag": "", "sequencer": "0"}}}]})");
    api::Response response = call(request);
    auto seen = Json::parse(response.invoke().result());
    return seen ? *seen : Json();
  };
  EXPECT_EQ(read_directly()["content"].as_string(), "first\n");

  CommandResult removed = sprout({"trigger", "rm", "r"});
  ASSERT_EQ(removed.exit_code, 0) << removed.err;
  EXPECT_EQ(removed.out, "removed trigger r\n");
  const Json listed = cli_json({"trigger", "ls"});
  ASSERT_EQ(listed["triggers"].size(), 1u) << listed.dump();
  EXPECT_EQ(listed["triggers"][0]["id"].as_string(), "w");

  write_file(watch + "/b.txt", "second\n");
  write_file(watch + "/c.txt", "third\n");
  ASSERT_TRUE(eventually([&] { return all_delivered("witness", "w", {"b.txt", "c.txt"}); }));
  EXPECT_EQ(delivered_keys("reader", "r"), (std::map<std::string, int>{{"a.txt", 1}}))
      << "the removed trigger kept delivering";
  EXPECT_TRUE(eventually([&] { return read_directly()["read_error"].as_string() == "FileNotFoundError"; },
                         std::chrono::seconds(30)))
      << "the removed trigger's directory is still mounted: " << read_directly().dump();

  CommandResult again = sprout({"trigger", "rm", "r"});
  EXPECT_EQ(again.exit_code, 10 + api::NOT_FOUND) << again.err;
  EXPECT_NE(again.err.find("'r'"), std::string::npos) << again.err;

  ASSERT_EQ(sprout({"rm", "witness"}).exit_code, 0);
  EXPECT_EQ(cli_json({"trigger", "ls"})["triggers"].size(), 0u)
      << "deleting a function must delete its triggers";
}

}  // namespace
}  // namespace sprout::testing
