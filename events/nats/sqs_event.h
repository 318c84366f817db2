// Lambda's SQS event, built from a batch of JetStream messages, so that an
// unchanged SQS handler (for record in event["Records"]: record["body"])
// consumes a NATS stream. The shape is SQS's as Lambda delivers it:
//
//   {"Records":[{"messageId","receiptHandle","body",
//     "attributes":{"ApproximateReceiveCount","SentTimestamp","SenderId",
//                   "ApproximateFirstReceiveTimestamp"},
//     "messageAttributes":{NAME:{"stringValue","stringListValues":[],
//                                "binaryListValues":[],"dataType":"String"}},
//     "md5OfBody","eventSource":"aws:sqs",
//     "eventSourceARN":"arn:aws:sqs:us-east-1:000000000000:<stream>",
//     "awsRegion":"us-east-1"}]}
//
// How NATS maps onto it:
//  - messageId: a UUID derived (MD5, RFC 4122 version 3 layout) from the
//    stream name and the stream sequence, so it is the same on every
//    redelivery and across restarts; it is what batchItemFailures names.
//  - receiptHandle: the delivery's JetStream ack subject, which differs on
//    every delivery (it carries the delivery count), as SQS's does.
//  - ApproximateReceiveCount: JetStream's delivery count.
//  - SentTimestamp: when the stream stored the message.
//  - ApproximateFirstReceiveTimestamp: when this sproutd first fetched it
//    (a restart forgets: then the first fetch after it).
//  - SenderId: the subject the message was published on (NATS has no
//    authenticated sender identity; the subject is what tells a handler of a
//    wildcard trigger where a message came from).
//  - messageAttributes: the message's NATS headers, one attribute per header
//    name: its first value as stringValue, and when the header repeats, all
//    its values in stringListValues.
//  - body: the data as it is when it is valid UTF-8. SQS bodies are text and
//    JSON strings cannot carry arbitrary bytes, so other data is delivered
//    base64-encoded with the attribute "sprout-body-encoding" = "base64"
//    (nothing is lost or replaced). md5OfBody is the MD5 of the body string
//    as delivered, as SQS computes it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sprout::events {

// The region and account of the ARNs sprout makes (as the Lambda API's).
inline constexpr std::string_view kSqsRegion = "us-east-1";
inline constexpr std::string_view kSqsAccount = "000000000000";
// The attribute that marks a base64-encoded body.
inline constexpr std::string_view kBodyEncodingAttribute = "sprout-body-encoding";

struct QueueHeader {
  std::string name;
  std::vector<std::string> values;  // in the order they were sent
};

// One delivery of one JetStream message.
struct QueueMessage {
  std::string stream;
  uint64_t stream_sequence = 0;
  std::string subject;
  std::string data;
  std::vector<QueueHeader> headers;
  uint64_t delivery_count = 1;       // 1 on the first delivery
  std::string receipt_handle;        // unique per delivery
  int64_t sent_unix_ms = 0;          // stored in the stream
  int64_t first_received_unix_ms = 0;
};

// The stable messageId of a stream's message: a UUID of the stream name and
// the stream sequence.
std::string sqs_message_id(std::string_view stream, uint64_t stream_sequence);

// "arn:aws:sqs:us-east-1:000000000000:<stream>".
std::string sqs_queue_arn(std::string_view stream);

// The lowercase hex MD5 of `bytes`.
std::string md5_hex(std::string_view bytes);

// The SQS event of a batch, as JSON text.
std::string sqs_batch_event(const std::vector<QueueMessage>& batch);

}  // namespace sprout::events
