#include "supervisor/request_id.h"

#include <cstdio>
#include <random>

namespace sprout::supervisor {

std::string new_request_id() {
  // Not a secret: an id to find an invocation by in the logs.
  static thread_local std::mt19937_64 generator{std::random_device{}()};
  uint64_t high = generator();
  uint64_t low = generator();
  high = (high & 0xffffffffffff0fffULL) | 0x4000ULL;                 // version 4
  low = (low & 0x3fffffffffffffffULL) | 0x8000000000000000ULL;       // variant 10
  char text[40];
  std::snprintf(text, sizeof text, "%08x-%04x-%04x-%04x-%012llx",
                static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xffff),
                static_cast<unsigned>(high & 0xffff), static_cast<unsigned>(low >> 48),
                static_cast<unsigned long long>(low & 0xffffffffffffULL));
  return text;
}

}  // namespace sprout::supervisor
