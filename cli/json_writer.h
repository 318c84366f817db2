// A small JSON writer for the CLI's --json output, and a validator that
// decides whether a function's result can be embedded as a JSON value.
#pragma once

#include <string>
#include <string_view>

namespace sprout::cli {

std::string json_string(std::string_view text);  // quoted and escaped
bool is_valid_json(std::string_view text);

// Builds one JSON object; values are added already encoded.
class JsonObject {
 public:
  JsonObject& raw(std::string_view key, std::string_view encoded_value);
  JsonObject& string(std::string_view key, std::string_view value) {
    return raw(key, json_string(value));
  }
  JsonObject& number(std::string_view key, uint64_t value) {
    return raw(key, std::to_string(value));
  }
  JsonObject& boolean(std::string_view key, bool value) {
    return raw(key, value ? "true" : "false");
  }
  std::string str() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

}  // namespace sprout::cli
