// snapshot/log_tail: the bounded tail of an invocation's output.
#include "snapshot/log_tail.h"

#include <gtest/gtest.h>

#include <string>

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

}  // namespace
}  // namespace sprout
