// Pure helpers of the upper layers: log tails, metering, admission, input
// validation, sproutd's configuration, the CLI's JSON, code bundles. No
// root, no processes.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/code_bundle.h"
#include "cli/json_writer.h"
#include "snapshot/log_tail.h"
#include "supervisor/config.h"
#include "supervisor/function_stats.h"
#include "supervisor/scheduler.h"
#include "supervisor/validation.h"

namespace sprout {
namespace {

TEST(LogTail, KeepsTheEndAndSaysWhatWasDropped) {
  LogTail tail(10);
  tail.append("0123456789");
  EXPECT_FALSE(tail.truncated());
  EXPECT_EQ(tail.text(), "0123456789");
  tail.append("abcde");
  EXPECT_EQ(tail.text(), "[sprout: 5 bytes of earlier output dropped]\n56789abcde");
  tail.append(std::string(100, 'x'));
  EXPECT_EQ(tail.text(), "[sprout: 105 bytes of earlier output dropped]\n" + std::string(10, 'x'));
}

TEST(FunctionStats, BillsRunTimePlusPrerequestCpuInWholeMilliseconds) {
  using supervisor::billed_milliseconds;
  EXPECT_EQ(billed_milliseconds(0, 0), 1u) << "at least 1 ms";
  EXPECT_EQ(billed_milliseconds(1, 0), 1u);
  EXPECT_EQ(billed_milliseconds(1000, 0), 1u);
  EXPECT_EQ(billed_milliseconds(1001, 0), 2u);
  EXPECT_EQ(billed_milliseconds(0, 1001), 2u) << "CPU before the request is billed alone too";
  EXPECT_EQ(billed_milliseconds(600, 400), 1u) << "ceil((600 + 400) / 1000)";
  EXPECT_EQ(billed_milliseconds(600, 401), 2u) << "summed before rounding, not rounded each";
  EXPECT_EQ(billed_milliseconds(2500, 2500), 5u);
  EXPECT_EQ(billed_milliseconds(uint64_t{1} << 40, 0), (uint64_t{1} << 40) / 1000 + 1);
}

TEST(FunctionStats, ComputesPercentilesAndTotals) {
  supervisor::FunctionStats stats;
  for (uint64_t i = 1; i <= 100; ++i) {
    api::Metrics metrics;
    metrics.set_total_us(i * 1000);
    metrics.set_billed_ms(2);
    metrics.set_fork_us(i % 2 ? 500 : 0);
    metrics.set_preforked(i % 2 == 0);
    stats.record(i == 100 ? api::TIMEOUT : api::OK, metrics, 512);
  }
  auto snapshot = stats.snapshot("f");
  EXPECT_EQ(snapshot.invocations(), 100u);
  EXPECT_EQ(snapshot.by_status().at("OK"), 99u);
  EXPECT_EQ(snapshot.by_status().at("TIMEOUT"), 1u);
  EXPECT_EQ(snapshot.p50_us(), 51000u);
  EXPECT_EQ(snapshot.p99_us(), 100000u);
  EXPECT_EQ(snapshot.billed_ms(), 200u);
  EXPECT_NEAR(snapshot.gb_seconds(), 0.5 * 0.002 * 100, 1e-9);  // 512 MiB x 2 ms x 100
  EXPECT_EQ(snapshot.cold_starts(), 50u);
  EXPECT_EQ(snapshot.preforked_starts(), 50u);
}

TEST(Scheduler, AdmitsWithinLimitsQueuesThenThrottles) {
  supervisor::Scheduler scheduler(2, 1, std::chrono::milliseconds(100));
  std::chrono::microseconds waited;
  supervisor::Scheduler::Slot a, b, c, d;
  using Admission = supervisor::Scheduler::Admission;
  EXPECT_EQ(scheduler.admit("f", 1, &a, &waited), Admission::kAdmitted);
  EXPECT_EQ(scheduler.admit("g", 5, &b, &waited), Admission::kAdmitted);
  EXPECT_EQ(scheduler.live(), 2u);
  // Global limit reached: one may wait (and times out), the next is refused.
  auto until_queued = [&] {
    while (scheduler.queued() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  };
  std::thread waiter(
      [&] { EXPECT_EQ(scheduler.admit("g", 5, &c, &waited), Admission::kQueueTimeout); });
  until_queued();
  EXPECT_EQ(scheduler.admit("g", 5, &d, &waited), Admission::kQueueFull);
  waiter.join();
  EXPECT_GE(waited.count(), 0);
  // A slot freed lets a waiter in.
  supervisor::Scheduler slow_queue(2, 1, std::chrono::seconds(30));
  supervisor::Scheduler::Slot e, f, g;
  ASSERT_EQ(slow_queue.admit("f", 5, &e, &waited), Admission::kAdmitted);
  ASSERT_EQ(slow_queue.admit("f", 5, &f, &waited), Admission::kAdmitted);
  std::thread admitted(
      [&] { EXPECT_EQ(slow_queue.admit("g", 5, &g, &waited), Admission::kAdmitted); });
  while (slow_queue.queued() == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  f = supervisor::Scheduler::Slot();
  admitted.join();
  EXPECT_EQ(slow_queue.live("g"), 1u);
  scheduler.start_draining();
  EXPECT_EQ(scheduler.admit("h", 5, &d, &waited), Admission::kDraining);
}

TEST(Validation, RefusesWhatSproutdMustNotActOn) {
  api::FunctionSpec spec;
  spec.set_name("ok-name_1");
  spec.set_runtime(api::PYTHON3);
  spec.set_handler("pkg.module.handler");
  spec.set_code("x");
  spec.set_code_format(api::SINGLE_FILE);
  spec.set_code_file_name("module.py");
  EXPECT_EQ(supervisor::validate_function_spec(spec), "");
  auto problem = [&](auto change) {
    api::FunctionSpec changed = spec;
    change(changed);
    return supervisor::validate_function_spec(changed);
  };
  EXPECT_NE(problem([](auto& s) { s.set_name("../etc"); }), "");
  EXPECT_NE(problem([](auto& s) { s.set_name(std::string(65, 'a')); }), "");
  EXPECT_NE(problem([](auto& s) { s.set_handler("nodot"); }), "");
  EXPECT_NE(problem([](auto& s) {
              s.set_runtime(api::NATIVE);
              s.set_handler("../lib.so");
            }),
            "");
  EXPECT_NE(problem([](auto& s) { s.set_code_file_name("dir/file.py"); }), "");
  EXPECT_NE(problem([](auto& s) { s.set_memory_mb(8); }), "");
  EXPECT_NE(problem([](auto& s) { s.set_timeout_ms(900001); }), "");
  EXPECT_NE(problem([](auto& s) { (*s.mutable_env())["BAD-KEY"] = "v"; }), "");
  EXPECT_NE(problem([](auto& s) { (*s.mutable_env())["BIG"] = std::string(5000, 'v'); }), "");
  EXPECT_NE(problem([](auto& s) { s.add_pre_imports("os; import sys"); }), "");
  EXPECT_NE(problem([](auto& s) {
              s.set_prefork_min(5);
              s.set_prefork_max(2);
            }),
            "");
  api::FunctionSpec defaults = spec;
  supervisor::apply_function_defaults(defaults);
  EXPECT_EQ(defaults.memory_mb(), 128u);
  EXPECT_EQ(defaults.timeout_ms(), 3000u);
  EXPECT_EQ(defaults.prefork_max(), 4u);
  defaults.set_no_prefork(true);
  supervisor::apply_function_defaults(defaults);
  EXPECT_EQ(defaults.prefork_max(), 0u);
}

TEST(Validation, TenantNamesAndTheFunctionsOwnTenant) {
  api::FunctionSpec spec;
  spec.set_name("hello");
  spec.set_runtime(api::EXEC);
  spec.set_handler("run.sh");
  spec.set_code("x");
  spec.set_code_format(api::SINGLE_FILE);
  spec.set_code_file_name("run.sh");
  EXPECT_EQ(supervisor::validate_function_spec(spec), "") << "empty: a tenant of its own";
  EXPECT_EQ(supervisor::effective_tenant(spec), "fn:hello");
  for (const char* good : {"acme", "A-b_9", "hello"}) {
    spec.set_tenant(good);
    EXPECT_EQ(supervisor::validate_function_spec(spec), "") << good;
    EXPECT_EQ(supervisor::effective_tenant(spec), good);
  }
  // A named tenant can never be taken for a function's own ("fn:<name>").
  for (const std::string& bad :
       std::vector<std::string>{"fn:hello", "a b", "../x", "x/y", std::string(65, 't')}) {
    spec.set_tenant(bad);
    EXPECT_NE(supervisor::validate_function_spec(spec).find("tenant must match"), std::string::npos)
        << bad;
  }
  spec.set_tenant(std::string(64, 't'));
  EXPECT_EQ(supervisor::validate_function_spec(spec), "");
}

TEST(Config, DefaultsFlagsAndAnExplicitZeroIdleTtl) {
  auto load = [](std::vector<std::string> args) {
    args.insert(args.begin(), "sproutd");
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    return supervisor::load_config(static_cast<int>(argv.size()), argv.data());
  };
  auto defaults = load({});
  ASSERT_TRUE(defaults.has_value()) << defaults.error().message();
  EXPECT_EQ(defaults->host_id_first(), 3000000000u);
  EXPECT_EQ(defaults->host_id_count(), 65536u);
  EXPECT_EQ(defaults->snapshot_idle_ttl_s(), 600u);
  EXPECT_EQ(defaults->fork_timeout_ms(), 2000u);
  EXPECT_EQ(defaults->prefork_threads(), 4u);

  auto flags =
      load({"--host-id-first", "4000000000", "--host-id-count", "1024", "--snapshot-idle-ttl-s",
            "0", "--fork-timeout-ms", "500", "--prefork-threads", "2"});
  ASSERT_TRUE(flags.has_value()) << flags.error().message();
  EXPECT_EQ(flags->host_id_first(), 4000000000u);
  EXPECT_EQ(flags->host_id_count(), 1024u);
  EXPECT_TRUE(flags->has_snapshot_idle_ttl_s());
  EXPECT_EQ(flags->snapshot_idle_ttl_s(), 0u) << "0 means never evict, not the default";
  EXPECT_EQ(flags->fork_timeout_ms(), 500u);
  EXPECT_EQ(flags->prefork_threads(), 2u);

  EXPECT_FALSE(load({"--host-id-first", "4294967296"}).has_value()) << "over 32 bits";
  EXPECT_FALSE(load({"--prefork-threads", "-1"}).has_value());
  EXPECT_FALSE(load({"--sandbox-uid", "1000"}).has_value()) << "removed";

  const auto dir =
      std::filesystem::temp_directory_path() / ("sprout-config-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "zero.conf") << "snapshot_idle_ttl_s: 0\nhost_id_count: 10\n";
  std::ofstream(dir / "old.conf") << "sandbox_uid: 65534\n";
  auto from_file = load({"--config", dir / "zero.conf"});
  ASSERT_TRUE(from_file.has_value()) << from_file.error().message();
  EXPECT_EQ(from_file->snapshot_idle_ttl_s(), 0u);
  EXPECT_EQ(from_file->host_id_count(), 10u);
  EXPECT_EQ(from_file->host_id_first(), 3000000000u);
  std::ofstream(dir / "commented.conf") << "# sandbox_uid: 65534 (before host id ranges)\n";
  auto old = load({"--config", dir / "old.conf"});
  ASSERT_FALSE(old.has_value()) << "sandbox_uid is gone: a clear error, not silently ignored";
  EXPECT_NE(old.error().message().find("sandbox_uid is no longer supported"), std::string::npos)
      << old.error().message();
  EXPECT_TRUE(load({"--config", dir / "commented.conf"}).has_value());
  std::filesystem::remove_all(dir);
}

TEST(Json, ValidatesAndEscapes) {
  using cli::is_valid_json;
  for (const char* good :
       {"{}", "[1, 2.5e3, -0.1]", R"({"a": [true, false, null], "b": "\u00e9\n"})", " 42 "}) {
    EXPECT_TRUE(is_valid_json(good)) << good;
  }
  for (const char* bad :
       {"", "{", "[1,]", "{'a': 1}", "01", "\"unterminated", "nul", "1 2", "\"\x01\""}) {
    EXPECT_FALSE(is_valid_json(bad)) << bad;
  }
  EXPECT_EQ(cli::json_string("a\"b\\c\n\x01"), R"("a\"b\\c\n\u0001")");
  EXPECT_EQ(cli::JsonObject().string("k", "v").number("n", 3).boolean("b", true).str(),
            R"({"k": "v", "n": 3, "b": true})");
}

// A ustar header for `name` with `size` bytes and `type`.
std::string tar_header(const std::string& name, size_t size, char type) {
  std::string block(512, '\0');
  memcpy(block.data(), name.data(), std::min<size_t>(name.size(), 100));
  snprintf(block.data() + 100, 8, "%07o", 0644);
  snprintf(block.data() + 124, 12, "%011zo", size);
  block[156] = type;
  memcpy(block.data() + 257, "ustar", 5);
  return block;
}

std::string tar_entry(const std::string& name, const std::string& data, char type = '0') {
  std::string out = tar_header(name, data.size(), type) + data;
  out.append((512 - data.size() % 512) % 512, '\0');
  return out;
}

class CodeBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/sprout-test-bundle-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string read(const std::string& relative) {
    std::ifstream in(dir_ + "/" + relative);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  std::string dir_;
};

TEST_F(CodeBundleTest, TarWithDirectoriesAndGnuLongNames) {
  const std::string long_name = "pkg/" + std::string(120, 'n') + ".py";
  std::string tar = tar_entry("./pkg/", "", '5') + tar_entry("./pkg/a.py", "A = 1\n") +
                    tar_entry("././@LongLink", long_name + std::string(1, '\0'), 'L') +
                    tar_entry("ignored", "long\n") + std::string(1024, '\0');
  auto laid = agent::lay_out_bundle(tar, agent::TAR, "", dir_);
  ASSERT_TRUE(laid.has_value()) << laid.error().message();
  EXPECT_EQ(read("pkg/a.py"), "A = 1\n");
  EXPECT_EQ(read(long_name), "long\n");
}

TEST_F(CodeBundleTest, RefusesEscapesLinksAndTruncation) {
  auto refused = [&](const std::string& tar) {
    auto laid = agent::lay_out_bundle(tar, agent::TAR, "", dir_);
    return laid ? std::string() : laid.error().message();
  };
  EXPECT_NE(refused(tar_entry("../evil.py", "x") + std::string(1024, '\0'))
                .find("escaping path: '../evil.py'"),
            std::string::npos);
  EXPECT_NE(refused(tar_entry("/etc/evil", "x") + std::string(1024, '\0')).find("escaping path"),
            std::string::npos);
  EXPECT_NE(refused(tar_entry("link", "", '2') + std::string(1024, '\0'))
                .find("unsupported tar entry type '2'"),
            std::string::npos);
  EXPECT_NE(refused(tar_entry("cut.py", std::string(2000, 'x')).substr(0, 1024))
                .find("runs past the end"),
            std::string::npos);
  EXPECT_NE(refused(tar_entry("nomarker.py", "x")).find("end-of-archive"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir_).parent_path() / "evil.py"));
}

TEST_F(CodeBundleTest, SingleFileMustBeAPlainName) {
  EXPECT_TRUE(agent::lay_out_bundle("print(1)\n", agent::SINGLE_FILE, "main.py", dir_).has_value());
  EXPECT_EQ(read("main.py"), "print(1)\n");
  EXPECT_FALSE(agent::lay_out_bundle("x", agent::SINGLE_FILE, "../main.py", dir_).has_value());
  EXPECT_FALSE(agent::lay_out_bundle("x", agent::SINGLE_FILE, "a/b.py", dir_).has_value());
}

}  // namespace
}  // namespace sprout
