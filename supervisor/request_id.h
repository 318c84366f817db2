// Request ids as Lambda's aws_request_id: random RFC 4122 version 4 UUIDs.
// Thread-safe (a generator per thread).
#pragma once

#include <string>

namespace sprout::supervisor {

// "8f507cfc-1a2b-4697-b07a-ac58fc914c95"
std::string new_request_id();

}  // namespace sprout::supervisor
