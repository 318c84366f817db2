// Links against the installed client and reports a missing daemon clearly.
#include <cstdio>

#include "sprout/client.h"

int main(int argc, char** argv) {
  auto client = sprout::Client::connect(argc > 1 ? argv[1] : "/nonexistent/sprout.sock");
  if (client) return 1;
  std::printf("%s: %s\n", sprout::api::Status_Name(client.error().status).c_str(),
              client.error().message.c_str());
  return client.error().status == sprout::api::UNAVAILABLE ? 0 : 1;
}
