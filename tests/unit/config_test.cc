// supervisor/config: sproutd's configuration from defaults, flags and a
// file.
#include "supervisor/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace sprout {
namespace {

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
  EXPECT_EQ(defaults->fork_timeout_ms(), 10000u);
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
  // Found by fuzz_daemon_config: spellings the text parser accepts and a
  // per-line regex missed; and a '#' inside a string is no comment.
  for (const char* sneaky : {"sandbox_uid\n: 5\n", "python_pre_imports: \"x\"sandbox_gid: 5\n",
                             "python_pre_imports: \"#\" sandbox_uid: 5\n"}) {
    std::ofstream(dir / "sneaky.conf", std::ios::trunc) << sneaky;
    EXPECT_FALSE(load({"--config", dir / "sneaky.conf"}).has_value()) << sneaky;
  }
  std::ofstream(dir / "quoted.conf", std::ios::trunc) << "python_pre_imports: \"sandbox_uid\"\n";
  EXPECT_TRUE(load({"--config", dir / "quoted.conf"}).has_value()) << "a string is not a field";
  std::filesystem::remove_all(dir);
}

TEST(Config, HelpIsAUsageAnswerAndABadFlagIsNot) {
  std::string name = "sproutd", help = "--help", bad = "--no-such-flag", value = "1";
  std::vector<char*> asked_for_help{name.data(), help.data()};
  auto usage = supervisor::load_config(2, asked_for_help.data());
  ASSERT_FALSE(usage.has_value());
  EXPECT_EQ(usage.error().code, ErrorCode::kUsage);
  std::vector<char*> wrong{name.data(), bad.data(), value.data()};
  auto refused = supervisor::load_config(3, wrong.data());
  ASSERT_FALSE(refused.has_value());
  EXPECT_NE(refused.error().code, ErrorCode::kUsage) << refused.error().message();
}

Result<supervisor::DaemonConfig> load_args(std::vector<std::string> args) {
  args.insert(args.begin(), "sproutd");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  return supervisor::load_config(static_cast<int>(argv.size()), argv.data());
}

TEST(Config, HttpListenerIsOffByDefaultAndParsedWhenAsked) {
  auto defaults = load_args({});
  ASSERT_TRUE(defaults.has_value()) << defaults.error().message();
  EXPECT_EQ(defaults->http_listen(), "") << "off unless asked";
  EXPECT_TRUE(defaults->http_allow_unauthenticated_loopback());
  EXPECT_EQ(defaults->http_max_connections(), 256u);
  EXPECT_EQ(defaults->http_max_header_bytes(), 16384u);
  EXPECT_EQ(defaults->http_request_timeout_ms(), 30000u);
  // Room for a CreateFunction whose base64 code bundle fills a frame.
  EXPECT_GE(defaults->http_max_body_bytes(), defaults->max_frame_bytes() / 3 * 4);

  auto flags = load_args({"--http-listen", "127.0.0.1:0", "--http-max-connections", "8",
                          "--http-max-header-bytes", "4096", "--http-max-body-bytes", "100000",
                          "--http-request-timeout-ms", "1500"});
  ASSERT_TRUE(flags.has_value()) << flags.error().message();
  EXPECT_EQ(flags->http_listen(), "127.0.0.1:0");
  EXPECT_EQ(flags->http_max_connections(), 8u);
  EXPECT_EQ(flags->http_max_header_bytes(), 4096u);
  EXPECT_EQ(flags->http_max_body_bytes(), 100000u);
  EXPECT_EQ(flags->http_request_timeout_ms(), 1500u);

  for (const char* bad : {"localhost:9000", "127.0.0.1", "127.0.0.1:65536", "127.0.0.1:-1",
                          "::1:9000", "[::1]", "[127.0.0.1]:80", ":80", "1.2.3:80"}) {
    auto refused = load_args({"--http-listen", bad});
    ASSERT_FALSE(refused.has_value()) << bad;
    EXPECT_NE(refused.error().message().find("ADDR:PORT"), std::string::npos)
        << refused.error().message();
  }
  auto v6 = supervisor::parse_http_listen("[::1]:9000");
  ASSERT_TRUE(v6.has_value());
  EXPECT_EQ(v6->address, "::1");
  EXPECT_EQ(v6->port, 9000);
  auto any = supervisor::parse_http_listen("0.0.0.0:0");
  ASSERT_TRUE(any.has_value());
  EXPECT_EQ(any->address, "0.0.0.0");
  EXPECT_EQ(any->port, 0);
  EXPECT_FALSE(load_args({"--http-max-header-bytes", "100"}).has_value()) << "under 1 KiB";
}

TEST(Config, HttpCredentialsAndTheLoopbackPolicyFromTheFile) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("sprout-config-http-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "http.conf")
      << "http_listen: \"[::1]:0\"\n"
         "http_allow_unauthenticated_loopback: false\n"
         "http_credentials { access_key_id: \"AKID1\" secret_access_key: \"s1\" }\n"
         "http_credentials { access_key_id: \"AKID2\" secret_access_key: \"s2\" }\n";
  std::ofstream(dir / "twice.conf")
      << "http_credentials { access_key_id: \"AKID1\" secret_access_key: \"s1\" }\n"
         "http_credentials { access_key_id: \"AKID1\" secret_access_key: \"s2\" }\n";
  std::ofstream(dir / "nosecret.conf") << "http_credentials { access_key_id: \"AKID1\" }\n";
  auto loaded = load_args({"--config", dir / "http.conf"});
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message();
  EXPECT_EQ(loaded->http_listen(), "[::1]:0");
  EXPECT_FALSE(loaded->http_allow_unauthenticated_loopback()) << "an explicit false is kept";
  ASSERT_EQ(loaded->http_credentials_size(), 2);
  EXPECT_EQ(loaded->http_credentials(1).secret_access_key(), "s2");
  auto overridden = load_args({"--config", dir / "http.conf", "--http-listen", "127.0.0.1:0"});
  ASSERT_TRUE(overridden.has_value());
  EXPECT_EQ(overridden->http_listen(), "127.0.0.1:0") << "flags win over the file";
  auto twice = load_args({"--config", dir / "twice.conf"});
  ASSERT_FALSE(twice.has_value());
  EXPECT_NE(twice.error().message().find("twice"), std::string::npos);
  EXPECT_FALSE(load_args({"--config", dir / "nosecret.conf"}).has_value());
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace sprout
