// A small, strict JSON reader (RFC 8259) and the writer's string escaping,
// for the HTTP front door: Lambda requires an Invoke body to be JSON, a
// function URL's result is read back as JSON, and the events and error
// bodies sproutd sends are JSON. (Debian 12's Boost 1.74 has no Boost.JSON.)
//
// Numbers keep their text, so that a value read and written again is not
// rounded. Objects keep their members in order. Nesting is bounded, so that
// no input can exhaust the stack. Thread-safe (no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sprout::http {

// Deeper input is refused: the reader recurses once per level.
inline constexpr int kMaxJsonDepth = 512;

class JsonValue {
 public:
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  using Member = std::pair<std::string, JsonValue>;

  Kind kind() const { return kind_; }
  bool is_null() const { return kind_ == Kind::kNull; }
  bool is_bool() const { return kind_ == Kind::kBool; }
  bool is_number() const { return kind_ == Kind::kNumber; }
  bool is_string() const { return kind_ == Kind::kString; }
  bool is_array() const { return kind_ == Kind::kArray; }
  bool is_object() const { return kind_ == Kind::kObject; }

  bool as_bool() const { return bool_; }
  // The number's text as it was written ("201", "2.5e3").
  const std::string& number_text() const { return text_; }
  // The number as an integer, when it is one (no fraction, no exponent,
  // in range).
  std::optional<int64_t> as_integer() const;
  const std::string& as_string() const { return text_; }
  const std::vector<JsonValue>& items() const { return items_; }
  const std::vector<Member>& members() const { return members_; }
  // The last member named `key` (JSON parsers keep the last duplicate), or
  // null when there is none.
  const JsonValue* find(std::string_view key) const;

  // Compact JSON text of this value.
  std::string dump() const;

 private:
  friend class JsonReader;
  Kind kind_ = Kind::kNull;
  bool bool_ = false;
  std::string text_;  // a string's value, or a number's text
  std::vector<JsonValue> items_;
  std::vector<Member> members_;
};

// Parses a whole document (whitespace around it allowed). On failure,
// `error` (when given) says where and why.
std::optional<JsonValue> parse_json(std::string_view text, std::string* error = nullptr);

// `text` as a quoted JSON string. Bytes that are not valid UTF-8 are
// written as U+FFFD, so the output is always valid JSON.
std::string json_quote(std::string_view text);

// Whether `text` is valid UTF-8 (no overlong forms, no surrogates).
bool is_valid_utf8(std::string_view text);

// Builds one JSON object member by member; values are given encoded.
class JsonObjectWriter {
 public:
  JsonObjectWriter& raw(std::string_view key, std::string_view encoded);
  JsonObjectWriter& string(std::string_view key, std::string_view value) {
    return raw(key, json_quote(value));
  }
  JsonObjectWriter& boolean(std::string_view key, bool value) {
    return raw(key, value ? "true" : "false");
  }
  JsonObjectWriter& integer(std::string_view key, int64_t value) {
    return raw(key, std::to_string(value));
  }
  std::string str() const { return "{" + body_ + "}"; }

 private:
  std::string body_;
};

// ["a","b"] from strings.
std::string json_string_array(const std::vector<std::string>& values);

}  // namespace sprout::http
