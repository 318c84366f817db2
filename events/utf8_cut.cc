#include "events/utf8_cut.h"

namespace sprout::events {
namespace {

bool is_continuation(char byte) { return (static_cast<unsigned char>(byte) & 0xC0U) == 0x80U; }

}  // namespace

std::string_view utf8_prefix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t cut = max_bytes;
  // Back up to the first byte of the character the cut falls in; bytes that
  // are not UTF-8 at all (binary results) stop this after at most 3 steps.
  for (int step = 0; step < 3 && cut > 0 && is_continuation(text[cut]); ++step) --cut;
  return text.substr(0, cut);
}

std::string_view utf8_suffix(std::string_view text, size_t max_bytes) {
  if (text.size() <= max_bytes) return text;
  size_t start = text.size() - max_bytes;
  for (int step = 0; step < 3 && start < text.size() && is_continuation(text[start]); ++step)
    ++start;
  return text.substr(start);
}

}  // namespace sprout::events
