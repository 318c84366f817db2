// The real sproutd with its HTTP listener on a loopback port of the
// kernel's choosing, in a temporary directory, and the real AWS clients
// (Debian's /usr/bin/aws, /usr/bin/python3 with boto3) run against it with
// dummy credentials that live in that directory.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <string>
#include <vector>

namespace sprout::testing {

struct CommandOutput {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class ManagementDaemonTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  // "http://127.0.0.1:PORT"
  const std::string& endpoint() const { return endpoint_; }
  // Runs argv[0] (a path) with the AWS environment of this test.
  CommandOutput run(const std::vector<std::string>& argv) const;
  // `aws lambda ARGS... --endpoint-url ENDPOINT --output json`.
  CommandOutput aws_lambda(const std::vector<std::string>& args) const;
  // A .zip made by Python's zipfile: {name, contents} pairs.
  std::string make_zip(const std::string& file_name,
                       const std::vector<std::pair<std::string, std::string>>& files) const;
  std::string read_file(const std::string& path) const;

  std::string dir_;

 private:
  std::vector<std::string> environment_;
  std::string endpoint_;
  pid_t daemon_ = -1;
};

}  // namespace sprout::testing
