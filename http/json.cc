#include "http/json.h"

#include <charconv>
#include <cstdio>

namespace sprout::http {
namespace {

// Appends code point `cp` as UTF-8.
void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The length of the valid UTF-8 sequence at `text[i]`, 0 when it is not one
// (overlong forms, surrogates and code points past U+10FFFF included).
size_t utf8_sequence_length(std::string_view text, size_t i) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  if (lead < 0x80) return 1;
  size_t length;
  uint32_t cp;
  if ((lead & 0xE0) == 0xC0) {
    length = 2;
    cp = lead & 0x1F;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3;
    cp = lead & 0x0F;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4;
    cp = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) return 0;
  for (size_t k = 1; k < length; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kSmallest[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kSmallest[length] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return length;
}

}  // namespace

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : text_(text) {}

  std::optional<JsonValue> document(std::string* error) {
    JsonValue value;
    skip_space();
    if (!read_value(value, 0)) return fail(error);
    skip_space();
    if (pos_ != text_.size()) {
      problem_ = "unexpected text after the value";
      return fail(error);
    }
    return value;
  }

 private:
  std::optional<JsonValue> fail(std::string* error) const {
    if (error) *error = problem_ + " at offset " + std::to_string(pos_);
    return std::nullopt;
  }
  bool at_end() const { return pos_ >= text_.size(); }
  char peek() const { return text_[pos_]; }
  void skip_space() {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r'))
      ++pos_;
  }
  bool expect_word(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) {
      problem_ = "invalid literal";
      return false;
    }
    pos_ += word.size();
    return true;
  }

  bool read_value(JsonValue& out, int depth) {
    if (depth > kMaxJsonDepth) {
      problem_ = "nested deeper than " + std::to_string(kMaxJsonDepth) + " levels";
      return false;
    }
    if (at_end()) {
      problem_ = "unexpected end of input";
      return false;
    }
    switch (peek()) {
      case 'n':
        out.kind_ = JsonValue::Kind::kNull;
        return expect_word("null");
      case 't':
        out.kind_ = JsonValue::Kind::kBool;
        out.bool_ = true;
        return expect_word("true");
      case 'f':
        out.kind_ = JsonValue::Kind::kBool;
        out.bool_ = false;
        return expect_word("false");
      case '"':
        out.kind_ = JsonValue::Kind::kString;
        return read_string(out.text_);
      case '[':
        out.kind_ = JsonValue::Kind::kArray;
        return read_array(out, depth);
      case '{':
        out.kind_ = JsonValue::Kind::kObject;
        return read_object(out, depth);
      default:
        out.kind_ = JsonValue::Kind::kNumber;
        return read_number(out.text_);
    }
  }

  bool read_array(JsonValue& out, int depth) {
    ++pos_;  // '['
    skip_space();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      JsonValue item;
      skip_space();
      if (!read_value(item, depth + 1)) return false;
      out.items_.push_back(std::move(item));
      skip_space();
      if (at_end()) break;
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == ']') {
        ++pos_;
        return true;
      }
      break;
    }
    problem_ = "expected ',' or ']' in an array";
    return false;
  }

  bool read_object(JsonValue& out, int depth) {
    ++pos_;  // '{'
    skip_space();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      skip_space();
      std::string key;
      if (at_end() || peek() != '"') {
        problem_ = "expected a member name in an object";
        return false;
      }
      if (!read_string(key)) return false;
      skip_space();
      if (at_end() || peek() != ':') {
        problem_ = "expected ':' after a member name";
        return false;
      }
      ++pos_;
      skip_space();
      JsonValue value;
      if (!read_value(value, depth + 1)) return false;
      out.members_.emplace_back(std::move(key), std::move(value));
      skip_space();
      if (at_end()) break;
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      if (peek() == '}') {
        ++pos_;
        return true;
      }
      break;
    }
    problem_ = "expected ',' or '}' in an object";
    return false;
  }

  bool read_hex4(uint32_t& value) {
    if (pos_ + 4 > text_.size()) return false;
    value = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = text_[pos_++];
      value <<= 4;
      if (c >= '0' && c <= '9') {
        value |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        value |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        value |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }

  bool read_string(std::string& out) {
    ++pos_;  // '"'
    while (!at_end()) {
      const char c = peek();
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) {
        problem_ = "control character in a string";
        return false;
      }
      if (c != '\\') {
        const size_t length = utf8_sequence_length(text_, pos_);
        if (length == 0) {
          problem_ = "invalid UTF-8 in a string";
          return false;
        }
        out.append(text_.substr(pos_, length));
        pos_ += length;
        continue;
      }
      ++pos_;
      if (at_end()) break;
      const char escape = text_[pos_++];
      switch (escape) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t cp = 0;
          if (!read_hex4(cp)) {
            problem_ = "invalid \\u escape";
            return false;
          }
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low = 0;
            if (text_.substr(pos_, 2) != "\\u" || (pos_ += 2, !read_hex4(low)) || low < 0xDC00 ||
                low > 0xDFFF) {
              problem_ = "unpaired surrogate in a \\u escape";
              return false;
            }
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            problem_ = "unpaired surrogate in a \\u escape";
            return false;
          }
          append_utf8(out, cp);
          break;
        }
        default:
          problem_ = "invalid escape in a string";
          return false;
      }
    }
    problem_ = "unterminated string";
    return false;
  }

  // -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?
  bool read_number(std::string& out) {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
      return pos_ - from;
    };
    if (!at_end() && peek() == '-') ++pos_;
    if (!at_end() && peek() == '0') {
      ++pos_;
    } else if (digits() == 0) {
      problem_ = "invalid value";
      return false;
    }
    if (!at_end() && peek() == '.') {
      ++pos_;
      if (digits() == 0) {
        problem_ = "invalid number";
        return false;
      }
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (digits() == 0) {
        problem_ = "invalid number";
        return false;
      }
    }
    out.assign(text_.substr(start, pos_ - start));
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
  std::string problem_;
};

std::optional<int64_t> JsonValue::as_integer() const {
  if (kind_ != Kind::kNumber) return std::nullopt;
  int64_t value = 0;
  const char* end = text_.data() + text_.size();
  auto [stop, error] = std::from_chars(text_.data(), end, value);
  if (error != std::errc() || stop != end) return std::nullopt;
  return value;
}

const JsonValue* JsonValue::find(std::string_view key) const {
  const JsonValue* found = nullptr;
  for (const auto& [name, value] : members_)
    if (name == key) found = &value;
  return found;
}

std::string JsonValue::dump() const {
  switch (kind_) {
    case Kind::kNull:
      return "null";
    case Kind::kBool:
      return bool_ ? "true" : "false";
    case Kind::kNumber:
      return text_;
    case Kind::kString:
      return json_quote(text_);
    case Kind::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < items_.size(); ++i) {
        if (i) out += ',';
        out += items_[i].dump();
      }
      return out + "]";
    }
    case Kind::kObject: {
      std::string out = "{";
      for (size_t i = 0; i < members_.size(); ++i) {
        if (i) out += ',';
        out += json_quote(members_[i].first) + ":" + members_[i].second.dump();
      }
      return out + "}";
    }
  }
  return "null";
}

std::optional<JsonValue> parse_json(std::string_view text, std::string* error) {
  return JsonReader(text).document(error);
}

bool is_valid_utf8(std::string_view text) {
  for (size_t i = 0; i < text.size();) {
    const size_t length = utf8_sequence_length(text, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

std::string json_quote(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      const size_t length = utf8_sequence_length(text, i);
      if (length == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(text.substr(i, length));
        i += length;
      }
      continue;
    }
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char escaped[8];
          std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
          out += escaped;
        } else {
          out += static_cast<char>(c);
        }
    }
    ++i;
  }
  out += '"';
  return out;
}

JsonObjectWriter& JsonObjectWriter::raw(std::string_view key, std::string_view encoded) {
  if (!body_.empty()) body_ += ',';
  body_ += json_quote(key);
  body_ += ':';
  body_ += encoded;
  return *this;
}

std::string json_string_array(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i) out += ',';
    out += json_quote(values[i]);
  }
  return out + "]";
}

}  // namespace sprout::http
