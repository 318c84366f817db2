#include "events/nats/sqs_event.h"

#include <openssl/evp.h>

#include <array>

#include "http/json.h"

namespace sprout::events {
namespace {

constexpr size_t kMd5Size = 16;

std::array<unsigned char, kMd5Size> md5(std::string_view bytes) {
  std::array<unsigned char, kMd5Size> digest{};
  unsigned int size = 0;
  // EVP_Digest only fails on allocation failure; the zero digest it would
  // leave is still a well-formed value.
  if (EVP_Digest(bytes.data(), bytes.size(), digest.data(), &size, EVP_md5(), nullptr) != 1) {
    digest.fill(0);
  }
  return digest;
}

std::string hex(const unsigned char* bytes, size_t count) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(count * 2);
  for (size_t i = 0; i < count; ++i) {
    out += kDigits[bytes[i] >> 4];
    out += kDigits[bytes[i] & 0xf];
  }
  return out;
}

std::string base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  const int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                      reinterpret_cast<const unsigned char*>(bytes.data()),
                                      static_cast<int>(bytes.size()));
  out.resize(written < 0 ? 0 : static_cast<size_t>(written));
  return out;
}

std::string message_attribute(std::string_view value, const std::vector<std::string>& list) {
  return http::JsonObjectWriter()
      .string("stringValue", value)
      .raw("stringListValues", http::json_string_array(list))
      .raw("binaryListValues", "[]")
      .string("dataType", "String")
      .str();
}

std::string record(const QueueMessage& message) {
  const bool text = http::is_valid_utf8(message.data);
  const std::string body = text ? message.data : base64(message.data);

  const std::string attributes =
      http::JsonObjectWriter()
          .string("ApproximateReceiveCount", std::to_string(message.delivery_count))
          .string("SentTimestamp", std::to_string(message.sent_unix_ms))
          .string("SenderId", message.subject)
          .string("ApproximateFirstReceiveTimestamp",
                  std::to_string(message.first_received_unix_ms))
          .str();

  http::JsonObjectWriter message_attributes;
  for (const QueueHeader& header : message.headers) {
    if (header.values.empty() || header.name == kBodyEncodingAttribute) continue;
    const std::vector<std::string> list =
        header.values.size() > 1 ? header.values : std::vector<std::string>{};
    message_attributes.raw(header.name, message_attribute(header.values.front(), list));
  }
  if (!text) message_attributes.raw(kBodyEncodingAttribute, message_attribute("base64", {}));

  return http::JsonObjectWriter()
      .string("messageId", sqs_message_id(message.stream, message.stream_sequence))
      .string("receiptHandle", message.receipt_handle)
      .string("body", body)
      .raw("attributes", attributes)
      .raw("messageAttributes", message_attributes.str())
      .string("md5OfBody", md5_hex(body))
      .string("eventSource", "aws:sqs")
      .string("eventSourceARN", sqs_queue_arn(message.stream))
      .string("awsRegion", kSqsRegion)
      .str();
}

}  // namespace

std::string sqs_message_id(std::string_view stream, uint64_t stream_sequence) {
  // A name-based UUID (RFC 4122 version 3): the same name, the same id.
  std::string name = "nats-jetstream:";
  name += stream;
  name += ':';
  name += std::to_string(stream_sequence);
  std::array<unsigned char, kMd5Size> bytes = md5(name);
  bytes[6] = static_cast<unsigned char>((bytes[6] & 0x0f) | 0x30);  // version 3
  bytes[8] = static_cast<unsigned char>((bytes[8] & 0x3f) | 0x80);  // variant 10
  const std::string digits = hex(bytes.data(), bytes.size());
  return digits.substr(0, 8) + "-" + digits.substr(8, 4) + "-" + digits.substr(12, 4) + "-" +
         digits.substr(16, 4) + "-" + digits.substr(20);
}

std::string sqs_queue_arn(std::string_view stream) {
  std::string arn = "arn:aws:sqs:";
  arn += kSqsRegion;
  arn += ':';
  arn += kSqsAccount;
  arn += ':';
  arn += stream;
  return arn;
}

std::string md5_hex(std::string_view bytes) {
  const std::array<unsigned char, kMd5Size> digest = md5(bytes);
  return hex(digest.data(), digest.size());
}

std::string sqs_batch_event(const std::vector<QueueMessage>& batch) {
  std::string records = "[";
  for (size_t i = 0; i < batch.size(); ++i) {
    if (i > 0) records += ',';
    records += record(batch[i]);
  }
  records += ']';
  return http::JsonObjectWriter().raw("Records", records).str();
}

}  // namespace sprout::events
