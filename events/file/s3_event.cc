#include "events/file/s3_event.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <time.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>

#include "base/unique_fd.h"
#include "http/json.h"

namespace sprout::events {
namespace {

constexpr char kUpperHex[] = "0123456789ABCDEF";
constexpr char kLowerHex[] = "0123456789abcdef";

std::string hex(const unsigned char* bytes, size_t count, const char* digits) {
  std::string out;
  out.reserve(count * 2);
  for (size_t i = 0; i < count; ++i) {
    out.push_back(digits[bytes[i] >> 4]);
    out.push_back(digits[bytes[i] & 0xf]);
  }
  return out;
}

// S3's x-amz-request-id (16 upper-case hex digits) and x-amz-id-2 (an
// opaque base64 token): no handler interprets them, they only have to look
// like S3's and differ between events.
std::string random_upper_hex(size_t bytes) {
  std::array<unsigned char, 32> buffer{};
  if (bytes > buffer.size()) bytes = buffer.size();
  if (RAND_bytes(buffer.data(), static_cast<int>(bytes)) != 1) {
    // Never expected; a predictable id harms nothing, it is not a secret.
    const uint64_t now = static_cast<uint64_t>(
        std::chrono::steady_clock::now().time_since_epoch().count());
    for (size_t i = 0; i < bytes; ++i) buffer[i] = static_cast<unsigned char>(now >> (8 * (i % 8)));
  }
  return hex(buffer.data(), bytes, kUpperHex);
}

std::string random_base64(size_t bytes) {
  std::array<unsigned char, 48> raw{};
  if (bytes > raw.size()) bytes = raw.size();
  if (RAND_bytes(raw.data(), static_cast<int>(bytes)) != 1) raw.fill(0x5a);
  std::array<unsigned char, 72> encoded{};  // 4/3 of 48, plus the NUL
  const int length = EVP_EncodeBlock(encoded.data(), raw.data(), static_cast<int>(bytes));
  return {reinterpret_cast<const char*>(encoded.data()), static_cast<size_t>(length)};
}

bool is_unreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

}  // namespace

std::string s3_encode_key(std::string_view key) {
  std::string out;
  out.reserve(key.size());
  for (const char ch : key) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_unreserved(c) || c == '/') {
      out.push_back(ch);
    } else if (c == ' ') {
      out.push_back('+');
    } else {
      out.push_back('%');
      out.push_back(kUpperHex[c >> 4]);
      out.push_back(kUpperHex[c & 0xf]);
    }
  }
  return out;
}

std::string iso8601_utc_millis(int64_t unix_ms) {
  int64_t seconds = unix_ms / 1000;
  int64_t millis = unix_ms % 1000;
  if (millis < 0) {  // before 1970: floor, so that the millisecond part stays positive
    millis += 1000;
    --seconds;
  }
  const time_t as_time_t = static_cast<time_t>(seconds);
  tm parts{};
  gmtime_r(&as_time_t, &parts);
  std::array<char, 80> text{};  // room for any int the compiler cannot rule out
  std::snprintf(text.data(), text.size(), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                parts.tm_year + 1900, parts.tm_mon + 1, parts.tm_mday, parts.tm_hour,
                parts.tm_min, parts.tm_sec, static_cast<int>(millis));
  return text.data();
}

std::string next_s3_sequencer() {
  static std::atomic<uint64_t> last{0};
  const auto now_ns = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(
          std::chrono::system_clock::now().time_since_epoch())
          .count());
  uint64_t previous = last.load();
  uint64_t next = 0;
  do {
    next = now_ns > previous ? now_ns : previous + 1;
  } while (!last.compare_exchange_weak(previous, next));
  std::array<unsigned char, 8> bytes{};
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<unsigned char>(next >> (56 - 8 * i));
  return hex(bytes.data(), bytes.size(), kUpperHex);
}

Result<ContentDigest> md5_of_fd(int fd, const std::atomic<bool>* stop) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                        &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_md5(), nullptr) != 1)
    return plain_error("start an MD5 digest", "OpenSSL refused");
  ContentDigest digest;
  std::array<char, 64 * 1024> buffer{};
  for (;;) {
    if (stop && stop->load(std::memory_order_relaxed))
      return plain_error("digest a file", "stopped before the end");
    const ssize_t got = retry_eintr([&] { return ::read(fd, buffer.data(), buffer.size()); });
    if (got < 0) return os_error("read the file to digest");
    if (got == 0) break;
    if (EVP_DigestUpdate(context.get(), buffer.data(), static_cast<size_t>(got)) != 1)
      return plain_error("update an MD5 digest", "OpenSSL refused");
    digest.size += static_cast<uint64_t>(got);
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_length = 0;
  if (EVP_DigestFinal_ex(context.get(), md.data(), &md_length) != 1)
    return plain_error("finish an MD5 digest", "OpenSSL refused");
  digest.md5_hex = hex(md.data(), md_length, kLowerHex);
  return digest;
}

std::string s3_unhashed_etag(uint64_t size, int64_t mtime_ns, int64_t inode) {
  const std::string version =
      std::to_string(size) + ":" + std::to_string(mtime_ns) + ":" + std::to_string(inode);
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_length = 0;
  if (EVP_Digest(version.data(), version.size(), md.data(), &md_length, EVP_md5(), nullptr) != 1)
    md_length = 0;  // never expected; "-1" alone still marks it as no content MD5
  return hex(md.data(), md_length, kLowerHex) + "-1";
}

std::string s3_put_event_json(const S3ObjectCreated& object) {
  using http::JsonObjectWriter;
  const std::string user = JsonObjectWriter().string("principalId", object.principal_id).str();
  const std::string bucket = JsonObjectWriter()
                                 .string("name", object.bucket)
                                 .raw("ownerIdentity", user)
                                 .string("arn", "arn:aws:s3:::" + object.bucket)
                                 .str();
  const std::string s3_object = JsonObjectWriter()
                                    .string("key", s3_encode_key(object.key))
                                    .raw("size", std::to_string(object.size))
                                    .string("eTag", object.etag)
                                    .string("sequencer", object.sequencer)
                                    .str();
  const std::string s3 = JsonObjectWriter()
                             .string("s3SchemaVersion", "1.0")
                             .string("configurationId", object.configuration_id)
                             .raw("bucket", bucket)
                             .raw("object", s3_object)
                             .str();
  const std::string record =
      JsonObjectWriter()
          .string("eventVersion", "2.1")
          .string("eventSource", "aws:s3")
          .string("awsRegion", object.region)
          .string("eventTime", iso8601_utc_millis(object.event_time_unix_ms))
          .string("eventName", "ObjectCreated:Put")
          .raw("userIdentity", user)
          .raw("requestParameters", JsonObjectWriter().string("sourceIPAddress", "127.0.0.1").str())
          .raw("responseElements", JsonObjectWriter()
                                       .string("x-amz-request-id", random_upper_hex(8))
                                       .string("x-amz-id-2", random_base64(48))
                                       .str())
          .raw("s3", s3)
          .str();
  return JsonObjectWriter().raw("Records", "[" + record + "]").str();
}

}  // namespace sprout::events
