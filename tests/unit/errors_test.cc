// base/errors: the code an error carries (what callers branch on) and its
// readable text (what people read; never compared by the code).
#include "base/errors.h"

#include <errno.h>
#include <gtest/gtest.h>

namespace sprout {
namespace {

TEST(Errors, OsErrorsCarryTheirErrnoAndCodeOs) {
  Result<int> failed = os_error("open", "/nonexistent", ENOENT);
  ASSERT_FALSE(failed.has_value());
  EXPECT_EQ(failed.error().code, ErrorCode::kOs);
  EXPECT_EQ(failed.error().err, ENOENT);
  EXPECT_EQ(failed.error().message(), "open /nonexistent: ENOENT (No such file or directory)");
  errno = EPERM;
  EXPECT_EQ(os_error("mount").error().err, EPERM) << "the current errno";
}

TEST(Errors, PlainErrorsAreInternalUnlessGivenACode) {
  EXPECT_EQ(plain_error("parse", "bad").error().code, ErrorCode::kInternal);
  const Error usage = plain_error(ErrorCode::kUsage, "usage", "sproutd [--socket PATH]").error();
  EXPECT_EQ(usage.code, ErrorCode::kUsage);
  EXPECT_EQ(usage.err, 0);
  EXPECT_EQ(usage.message(), "usage: sproutd [--socket PATH]") << "the code is not in the text";
}

TEST(Errors, BuiltByHandTheCodeFollowsTheErrnoUnlessGiven) {
  EXPECT_EQ((Error{"write uid_map", "/proc/1/uid_map", EPERM, {}}.code), ErrorCode::kOs);
  EXPECT_EQ((Error{"read frame", "", 0, "closed"}.code), ErrorCode::kInternal);
  const Error late{"fork sandbox", "f@1", ETIMEDOUT, "did not fork", ErrorCode::kTimeout};
  EXPECT_EQ(late.code, ErrorCode::kTimeout);
  EXPECT_EQ(late.message(), "fork sandbox f@1: ETIMEDOUT (Connection timed out), did not fork");
}

}  // namespace
}  // namespace sprout
