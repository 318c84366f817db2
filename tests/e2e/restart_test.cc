// Restarts: the socket opens before any function's init runs, and a
// damaged registry entry is reported and skipped while the others load.
#include <filesystem>
#include <fstream>

#include "tests/e2e/daemon_fixture.h"
#include "tests/e2e/process_scan.h"

namespace sprout::testing {
namespace {

class RestartTest : public DaemonTest {
 protected:
  std::string version_dir(const std::string& name) const {
    return state_ + "/functions/" + name + "/v1";
  }
};

// Provokes a restart with three stored functions whose inits take 3 s each.
// Before the fix they ran one after another before the socket opened;
// now sproutd answers with none of them loaded, and their first calls,
// made together, load them in parallel.
TEST_F(RestartTest, SocketOpensBeforeAnyInitAndFirstCallsLoadInParallel) {
  start_daemon();
  const std::string slow_init =
      "import time\ntime.sleep(3)\ndef handler(event, context):\n    return 'up'\n";
  for (const char* name : {"a", "b", "c"}) deploy_python(name, slow_init, {"--no-prefork"});
  ASSERT_EQ(stop_daemon(), 0);
  start_daemon();
  auto client = connect();
  auto health = client->health();
  ASSERT_TRUE(health);
  EXPECT_EQ(health->functions(), 3u);
  EXPECT_EQ(health->live_snapshots(), 0u) << "no init ran before the socket opened";

  std::vector<std::future<ClientResult<api::InvokeResponse>>> calls;
  for (const char* name : {"a", "b", "c"}) calls.push_back(client->invoke_async(name, "{}"));
  // Loads in parallel: all three inits run at once, which a rebuild one
  // after another never shows.
  auto other = connect();
  bool all_loading = wait_until(
      [&] {
        auto listed = other->list();
        if (!listed) return false;
        int loading = 0;
        for (const auto& function : listed->functions())
          loading += function.state().starts_with("loading");
        return loading == 3;
      },
      std::chrono::seconds(60));
  for (auto& call : calls) {
    auto answer = call.get();
    ASSERT_TRUE(answer);
    EXPECT_EQ(answer->status(), api::OK) << answer->detail();
    EXPECT_EQ(answer->result(), "\"up\"");
  }
  EXPECT_TRUE(all_loading);
}

// Provokes three kinds of damage in the registry: unparsable info, code
// truncated after it was saved, and a spec that names another function.
// Each is reported by name in the log and skipped; the intact one loads.
TEST_F(RestartTest, DamagedRegistryEntriesAreReportedAndSkipped) {
  start_daemon();
  for (const char* name : {"garbled", "truncated", "renamed", "intact"})
    deploy_python(name, "def handler(event, context):\n    return 'fine'\n");
  ASSERT_EQ(stop_daemon(), 0);

  std::ofstream(version_dir("garbled") + "/info.pb", std::ios::trunc) << "\xff\xff not protobuf";
  std::filesystem::resize_file(version_dir("truncated") + "/code", 10);
  std::filesystem::copy_file(version_dir("intact") + "/info.pb",
                             version_dir("renamed") + "/info.pb",
                             std::filesystem::copy_options::overwrite_existing);

  start_daemon();
  auto client = connect();
  auto list = client->list();
  ASSERT_TRUE(list);
  ASSERT_EQ(list->functions_size(), 1);
  EXPECT_EQ(list->functions(0).spec().name(), "intact");
  auto answer = client->invoke("intact", "{}");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status(), api::OK);

  const std::string log = read_text(daemon_log_);
  EXPECT_NE(log.find("function garbled v1 is unreadable; skipped"), std::string::npos) << log;
  EXPECT_NE(log.find("function truncated v1 has 10 bytes of code where"), std::string::npos)
      << log;
  EXPECT_NE(log.find("function renamed v1 names 'intact', not its directory"), std::string::npos)
      << log;
}

}  // namespace
}  // namespace sprout::testing
