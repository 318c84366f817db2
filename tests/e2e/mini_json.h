// A small JSON reader for the attack tests: the functions under test report
// what they saw as JSON (handler results, `sprout ... --json`), and the tests
// assert on it. Not a general-purpose library: no streaming, no writer.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sprout::testing {

class Json {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  static std::optional<Json> parse(std::string_view text);

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_object() const { return type_ == Type::kObject; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_bool() const { return type_ == Type::kBool; }

  // Lenient accessors: a missing key or a value of another type reads as
  // null / false / 0 / "", so that an assertion on it fails with a message
  // instead of the test crashing.
  const Json& operator[](const std::string& key) const;
  const Json& operator[](size_t index) const;
  bool has(const std::string& key) const;
  size_t size() const;
  bool as_bool() const { return type_ == Type::kBool && bool_; }
  int64_t as_int() const { return type_ == Type::kNumber ? integer_ : 0; }
  double as_double() const { return type_ == Type::kNumber ? number_ : 0; }
  const std::string& as_string() const;
  const std::vector<Json>& items() const { return array_; }
  const std::map<std::string, Json>& members() const { return object_; }

  // Compact text again, for failure messages.
  std::string dump() const;

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  int64_t integer_ = 0;
  std::string string_;
  std::vector<Json> array_;
  std::map<std::string, Json> object_;
};

}  // namespace sprout::testing
