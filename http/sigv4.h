// AWS Signature Version 4 verification of a request to sproutd's HTTP front
// door (the Authorization header form: "AWS4-HMAC-SHA256 Credential=...,
// SignedHeaders=..., Signature=..."), against the access keys of sproutd's
// config. The canonical request is built as AWS's spec says and as botocore
// (the AWS CLI, boto3) builds it: the path with dot segments and repeated
// slashes removed and percent-encoded once more, the query's names and
// values RFC 3986-encoded and sorted, the signed headers lower-cased and
// trimmed, the body's SHA-256 (or the x-amz-content-sha256 header, which
// must then be that hash). HMAC-SHA256 and SHA-256 from OpenSSL. Pure and
// thread-safe.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "http/http_request.h"

namespace sprout::http {

// How far x-amz-date may be from sproutd's clock, either way.
inline constexpr std::chrono::minutes kMaxSignatureSkew{5};

struct SigV4Verdict {
  bool ok = false;
  // When refused: AWS's error type (IncompleteSignatureException,
  // UnrecognizedClientException, InvalidSignatureException) and message;
  // every refusal is HTTP 403.
  std::string error_type;
  std::string message;
  // When accepted: who signed, and the region of the credential scope.
  std::string access_key_id;
  std::string region;
};

// `credentials`: access key id -> secret access key. `service`: the scope's
// service that is accepted ("lambda"); any region is.
SigV4Verdict verify_sigv4(const HttpRequest& request,
                          const std::map<std::string, std::string>& credentials,
                          std::chrono::system_clock::time_point now,
                          const std::string& service = "lambda");

// The pieces, exposed for tests.
std::string sigv4_canonical_uri(const std::string& raw_path);
std::string sigv4_canonical_query(const std::string& raw_query);
std::string sha256_hex(std::string_view bytes);

}  // namespace sprout::http
