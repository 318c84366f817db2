// The Lambda function-management API through Debian's python3-boto3,
// unchanged (boto3_management.py), against the real sproutd: its error
// classes, waiters and paginator included.
#include <gtest/gtest.h>

#include "tests/http_management/management_daemon.h"

namespace sprout::testing {
namespace {

class Boto3Test : public ManagementDaemonTest {};

TEST_F(Boto3Test, DeployScriptLifecycle) {
  auto ran = run({"/usr/bin/python3", SPROUT_BOTO3_SCRIPT, endpoint(), dir_});
  EXPECT_EQ(ran.exit_code, 0) << ran.out << ran.err;
  EXPECT_NE(ran.out.find("boto3: every check held"), std::string::npos) << ran.out << ran.err;
}

}  // namespace
}  // namespace sprout::testing
