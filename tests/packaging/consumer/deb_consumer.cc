// Invokes a deployed function through the packaged client library and
// prints its result: proof that the headers, the static libraries and the
// CMake package of the .deb fit together and talk to the packaged sproutd.
// usage: deb_consumer SOCKET FUNCTION PAYLOAD
#include <cstdio>

#include "sprout/client.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: deb_consumer SOCKET FUNCTION PAYLOAD\n");
    return 2;
  }
  auto client = sprout::Client::connect(argv[1]);
  if (!client) {
    std::fprintf(stderr, "connect: %s\n", client.error().message.c_str());
    return 1;
  }
  auto reply = (*client)->invoke(argv[2], argv[3]);
  if (!reply) {
    std::fprintf(stderr, "invoke: %s\n", reply.error().message.c_str());
    return 1;
  }
  if (reply->status() != sprout::api::OK) {
    std::fprintf(stderr, "invoke: %s: %s\n", sprout::api::Status_Name(reply->status()).c_str(),
                 reply->detail().c_str());
    return 1;
  }
  std::printf("%s\n", reply->result().c_str());
  return 0;
}
