#include "tests/e2e/mini_json.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>

namespace sprout::testing {

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  std::optional<Json> document() {
    auto value = parse_value(0);
    skip_space();
    if (!value || pos_ != text_.size()) return std::nullopt;
    return value;
  }

 private:
  static constexpr int kMaxDepth = 200;

  void skip_space() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\n' ||
                                   text_[pos_] == '\t' || text_[pos_] == '\r'))
      ++pos_;
  }

  bool consume(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  static void append_utf8(std::string* out, uint32_t code) {
    if (code < 0x80) {
      out->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out->push_back(static_cast<char>(0xc0 | (code >> 6)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
    } else if (code < 0x10000) {
      out->push_back(static_cast<char>(0xe0 | (code >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
    } else {
      out->push_back(static_cast<char>(0xf0 | (code >> 18)));
      out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3f)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3f)));
    }
  }

  std::optional<uint32_t> hex4() {
    if (pos_ + 4 > text_.size()) return std::nullopt;
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      value <<= 4;
      if (c >= '0' && c <= '9')
        value |= c - '0';
      else if (c >= 'a' && c <= 'f')
        value |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F')
        value |= c - 'A' + 10;
      else
        return std::nullopt;
    }
    return value;
  }

  std::optional<std::string> parse_string() {
    if (pos_ >= text_.size() || text_[pos_] != '"') return std::nullopt;
    ++pos_;
    std::string out;
    while (pos_ < text_.size()) {
      char c = text_[pos_++];
      if (c == '"') return out;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (pos_ >= text_.size()) return std::nullopt;
      char escape = text_[pos_++];
      switch (escape) {
        case '"':
        case '\\':
        case '/':
          out.push_back(escape);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          auto code = hex4();
          if (!code) return std::nullopt;
          if (*code >= 0xd800 && *code < 0xdc00 && consume("\\u")) {
            auto low = hex4();
            if (!low) return std::nullopt;
            *code = 0x10000 + ((*code - 0xd800) << 10) + (*low - 0xdc00);
          }
          append_utf8(&out, *code);
          break;
        }
        default:
          return std::nullopt;
      }
    }
    return std::nullopt;
  }

  std::optional<Json> parse_value(int depth) {
    if (depth > kMaxDepth) return std::nullopt;
    skip_space();
    if (pos_ >= text_.size()) return std::nullopt;
    Json value;
    char c = text_[pos_];
    if (c == '{') {
      ++pos_;
      value.type_ = Json::Type::kObject;
      skip_space();
      if (consume("}")) return value;
      for (;;) {
        skip_space();
        auto key = parse_string();
        if (!key) return std::nullopt;
        skip_space();
        if (!consume(":")) return std::nullopt;
        auto member = parse_value(depth + 1);
        if (!member) return std::nullopt;
        value.object_[*key] = std::move(*member);
        skip_space();
        if (consume("}")) return value;
        if (!consume(",")) return std::nullopt;
      }
    }
    if (c == '[') {
      ++pos_;
      value.type_ = Json::Type::kArray;
      skip_space();
      if (consume("]")) return value;
      for (;;) {
        auto item = parse_value(depth + 1);
        if (!item) return std::nullopt;
        value.array_.push_back(std::move(*item));
        skip_space();
        if (consume("]")) return value;
        if (!consume(",")) return std::nullopt;
      }
    }
    if (c == '"') {
      auto text = parse_string();
      if (!text) return std::nullopt;
      value.type_ = Json::Type::kString;
      value.string_ = std::move(*text);
      return value;
    }
    if (consume("true")) {
      value.type_ = Json::Type::kBool;
      value.bool_ = true;
      return value;
    }
    if (consume("false")) {
      value.type_ = Json::Type::kBool;
      return value;
    }
    if (consume("null")) return value;
    // A number.
    size_t begin = pos_;
    if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
    bool integral = true;
    while (pos_ < text_.size()) {
      char d = text_[pos_];
      if (d >= '0' && d <= '9') {
        ++pos_;
      } else if (d == '.' || d == 'e' || d == 'E' || d == '+' || d == '-') {
        integral = false;
        ++pos_;
      } else {
        break;
      }
    }
    if (pos_ == begin) return std::nullopt;
    std::string number(text_.substr(begin, pos_ - begin));
    char* end = nullptr;
    value.type_ = Json::Type::kNumber;
    value.number_ = std::strtod(number.c_str(), &end);
    if (*end) return std::nullopt;
    value.integer_ = integral ? std::strtoll(number.c_str(), nullptr, 10)
                              : static_cast<int64_t>(std::llround(value.number_));
    return value;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

std::optional<Json> Json::parse(std::string_view text) { return JsonParser(text).document(); }

namespace {
const Json& null_json() {
  static const Json null;
  return null;
}
}  // namespace

const Json& Json::operator[](const std::string& key) const {
  if (type_ != Type::kObject) return null_json();
  auto it = object_.find(key);
  return it == object_.end() ? null_json() : it->second;
}

const Json& Json::operator[](size_t index) const {
  if (type_ != Type::kArray || index >= array_.size()) return null_json();
  return array_[index];
}

bool Json::has(const std::string& key) const {
  return type_ == Type::kObject && object_.count(key) > 0;
}

size_t Json::size() const {
  if (type_ == Type::kArray) return array_.size();
  if (type_ == Type::kObject) return object_.size();
  return 0;
}

const std::string& Json::as_string() const {
  static const std::string empty;
  return type_ == Type::kString ? string_ : empty;
}

std::string Json::dump() const {
  switch (type_) {
    case Type::kNull:
      return "null";
    case Type::kBool:
      return bool_ ? "true" : "false";
    case Type::kNumber:
      if (static_cast<double>(integer_) == number_) return std::to_string(integer_);
      return std::to_string(number_);
    case Type::kString: {
      std::string out = "\"";
      for (char c : string_) {
        if (c == '"' || c == '\\') {
          out.push_back('\\');
          out.push_back(c);
        } else if (c == '\n') {
          out += "\\n";
        } else if (static_cast<unsigned char>(c) < 0x20) {
          char buffer[8];
          std::snprintf(buffer, sizeof buffer, "\\u%04x", c);
          out += buffer;
        } else {
          out.push_back(c);
        }
      }
      return out + "\"";
    }
    case Type::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < array_.size(); ++i) out += (i ? ", " : "") + array_[i].dump();
      return out + "]";
    }
    case Type::kObject: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, value] : object_) {
        out += (first ? "\"" : ", \"") + key + "\": " + value.dump();
        first = false;
      }
      return out + "}";
    }
  }
  return "null";
}

}  // namespace sprout::testing
