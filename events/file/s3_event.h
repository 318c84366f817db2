// The S3 event notification (version 2.1, "ObjectCreated:Put") that a file
// trigger hands to its function, in the exact shape S3 sends to Lambda, so
// that an unmodified S3 handler (`record["s3"]["object"]["key"]`, decoded
// with urllib.parse.unquote_plus) reads it. Also the pieces of it that S3
// computes: the object key's URL encoding, the single-part eTag (MD5 of the
// content) and the sequencer. Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/errors.h"

namespace sprout::events {

struct S3ObjectCreated {
  std::string region;            // awsRegion
  std::string principal_id;      // userIdentity and the bucket's ownerIdentity
  std::string configuration_id;  // the trigger's id
  std::string bucket;
  std::string key;  // the object key as stored (not encoded)
  uint64_t size = 0;
  std::string etag;       // hex MD5 of the content, without quotes
  std::string sequencer;  // from next_s3_sequencer()
  int64_t event_time_unix_ms = 0;
};

// {"Records":[{...}]} with one record for `object`.
std::string s3_put_event_json(const S3ObjectCreated& object);

// An object key as S3 writes it into event notifications: form encoding
// (a space becomes '+'), the unreserved characters A-Z a-z 0-9 - _ . ~ and
// '/' kept, every other byte %XX with upper-case hex. unquote_plus() of the
// result gives the key back.
std::string s3_encode_key(std::string_view key);

// "2024-05-01T12:34:56.789Z".
std::string iso8601_utc_millis(int64_t unix_ms);

// A sequencer larger than any returned before in this process, and larger
// than those of earlier runs as long as the wall clock does not go back:
// S3's sequencer only orders the events of one key, and handlers compare
// them as hex strings of equal length (16 digits here).
std::string next_s3_sequencer();

// The lower-case hex MD5 of everything readable from `fd` (read to its end)
// and how many bytes that was. `stop`, when given, is checked between chunks
// (of 64 KiB): once true, the digest is abandoned with an error, so that a
// huge file never holds up the caller's shutdown.
struct ContentDigest {
  std::string md5_hex;
  uint64_t size = 0;
};
Result<ContentDigest> md5_of_fd(int fd, const std::atomic<bool>* stop = nullptr);

// The eTag of an object too large to hash (over the trigger's cap): like
// S3's multipart eTags, NOT an MD5 of the content, and marked the same way,
// with a "-<parts>" suffix: "<md5 of size, mtime and inode>-1". It still
// changes with every new version of the file (what a handler compares
// eTags for), and never equals a content MD5 (those have no '-').
std::string s3_unhashed_etag(uint64_t size, int64_t mtime_ns, int64_t inode);

}  // namespace sprout::events
