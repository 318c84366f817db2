#include "tests/snapshot/snapshot_fixture.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

namespace sprout::testing {

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

void SnapshotTest::SetUp() {
  if (geteuid() != 0) GTEST_SKIP() << "snapshot tests run as root (zygotes as uid 65534, cgroups)";
  auto pool = CgroupPool::create({.prefix = "sprout-test", .prewarm = 2});
  ASSERT_TRUE(pool.has_value()) << pool.error().message();
  pool_ = std::move(*pool);
  // Far from sproutd's default range, so that tests and a running sproutd
  // never share an id.
  auto range = HostIdRange::create(3100000000u, 4096);
  ASSERT_TRUE(range.has_value()) << range.error().message();
  ids_.emplace(std::move(*range));
}

HostIdLease SnapshotTest::host_id() {
  auto lease = ids_->acquire();
  if (!lease) throw std::runtime_error(lease.error().message());
  return std::move(*lease);
}

void SnapshotTest::TearDown() {
  zygotes_.clear();
  pool_.reset();
}

RuntimeZygote& SnapshotTest::zygote(agent::RuntimeKind runtime) {
  auto& slot = zygotes_[runtime];
  if (!slot) {
    auto started = RuntimeZygote::start(
        {.runtime = runtime, .agent_path = SPROUT_BUILD_AGENT_PATH, .ids = host_id()});
    if (!started) {
      ADD_FAILURE() << started.error().message();
      throw std::runtime_error(started.error().message());
    }
    slot = std::move(*started);
  }
  return *slot;
}

FunctionDefinition SnapshotTest::python_function(const std::string& source,
                                                 const std::string& handler,
                                                 const std::string& file) {
  FunctionDefinition definition;
  definition.name = "test-fn";
  definition.version = "7";
  definition.handler = handler;
  definition.bundle_format = agent::SINGLE_FILE;
  definition.bundle_file_name = file;
  definition.bundle = source;
  definition.timeout_ms = 5000;
  definition.sandbox.set_memory_limit_bytes(128ull << 20);
  return definition;
}

LoadOutcome SnapshotTest::load(const FunctionDefinition& definition, agent::RuntimeKind runtime) {
  auto loaded = zygote(runtime).load(definition, pool_.get(), host_id());
  if (!loaded) {
    ADD_FAILURE() << loaded.error().message();
    return {};
  }
  return std::move(*loaded);
}

std::unique_ptr<FunctionSnapshot> SnapshotTest::load_ok(const FunctionDefinition& definition,
                                                        agent::RuntimeKind runtime) {
  auto loaded = load(definition, runtime);
  EXPECT_TRUE(loaded.init.ok()) << loaded.init.error_type() << ": " << loaded.init.error_message()
                                << "\n"
                                << loaded.init_logs;
  return std::move(loaded.snapshot);
}

InvocationResult SnapshotTest::invoke(FunctionSnapshot& snapshot, const std::string& payload,
                                      uint32_t timeout_ms) {
  auto result = snapshot.invoke({.payload = payload, .timeout_ms = timeout_ms});
  if (!result) {
    ADD_FAILURE() << result.error().message();
    return {};
  }
  return std::move(*result);
}

}  // namespace sprout::testing
