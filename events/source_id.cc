#include "events/source_id.h"

#include <algorithm>
#include <cctype>

namespace sprout::events {

bool is_valid_source_id(std::string_view id) {
  constexpr size_t kMaxId = 64;
  return !id.empty() && id.size() <= kMaxId && std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

}  // namespace sprout::events
