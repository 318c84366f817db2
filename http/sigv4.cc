#include "http/sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <ctime>
#include <optional>
#include <vector>

#include "http/encoding.h"

namespace sprout::http {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";

std::string to_hex(const unsigned char* bytes, size_t size) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (size_t i = 0; i < size; ++i) {
    out += kHex[bytes[i] >> 4];
    out += kHex[bytes[i] & 15];
  }
  return out;
}

std::string hmac_sha256(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
  return {reinterpret_cast<const char*>(out), length};
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// SigV4's Trimall: outer whitespace removed, inner runs made one space.
std::string trim_all(std::string_view value) {
  std::string out;
  bool in_space = false;
  for (char c : trim(value)) {
    if (c == ' ' || c == '\t') {
      in_space = true;
      continue;
    }
    if (in_space) out += ' ';
    in_space = false;
    out += c;
  }
  return out;
}

std::vector<std::string> split(std::string_view text, char separator) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t at = text.find(separator, start);
    parts.emplace_back(text.substr(start, at - start));
    if (at == std::string_view::npos) break;
    start = at + 1;
  }
  return parts;
}

struct Authorization {
  std::string access_key_id, date, region, service;
  std::vector<std::string> signed_headers;
  std::string signature;
};

std::optional<Authorization> parse_authorization(std::string_view header, std::string* problem) {
  header = trim(header);
  if (header.substr(0, kAlgorithm.size()) != kAlgorithm ||
      (header.size() > kAlgorithm.size() && header[kAlgorithm.size()] != ' ')) {
    *problem = "Authorization header requires the AWS4-HMAC-SHA256 algorithm.";
    return std::nullopt;
  }
  Authorization parsed;
  std::string credential, signed_headers;
  bool have_signature = false;
  for (const std::string& raw : split(header.substr(kAlgorithm.size()), ',')) {
    const std::string_view part = trim(raw);
    const size_t eq = part.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = part.substr(0, eq), value = part.substr(eq + 1);
    if (key == "Credential") {
      credential = value;
    } else if (key == "SignedHeaders") {
      signed_headers = value;
    } else if (key == "Signature") {
      parsed.signature = value;
      have_signature = true;
    }
  }
  if (credential.empty() || signed_headers.empty() || !have_signature) {
    *problem =
        "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
        "parameters.";
    return std::nullopt;
  }
  const auto scope = split(credential, '/');
  if (scope.size() != 5 || scope[4] != "aws4_request" || scope[0].empty() || scope[2].empty()) {
    *problem = "Credential should be of the form ACCESS_KEY/YYYYMMDD/REGION/SERVICE/aws4_request.";
    return std::nullopt;
  }
  parsed.access_key_id = scope[0];
  parsed.date = scope[1];
  parsed.region = scope[2];
  parsed.service = scope[3];
  parsed.signed_headers = split(signed_headers, ';');
  return parsed;
}

// "20240102T030405Z" as a point in time.
std::optional<std::chrono::system_clock::time_point> parse_amz_date(const std::string& text) {
  if (text.size() != 16 || text[8] != 'T' || text[15] != 'Z') return std::nullopt;
  std::tm parts{};
  if (!strptime(text.c_str(), "%Y%m%dT%H%M%SZ", &parts)) return std::nullopt;
  const time_t seconds = timegm(&parts);
  if (seconds == static_cast<time_t>(-1)) return std::nullopt;
  return std::chrono::system_clock::from_time_t(seconds);
}

std::string format_amz_date(std::chrono::system_clock::time_point when) {
  const time_t seconds = std::chrono::system_clock::to_time_t(when);
  std::tm parts{};
  gmtime_r(&seconds, &parts);
  char text[32];
  if (std::strftime(text, sizeof text, "%Y%m%dT%H%M%SZ", &parts) == 0) return "?";
  return text;
}

SigV4Verdict refuse(std::string type, std::string message) {
  SigV4Verdict verdict;
  verdict.error_type = std::move(type);
  verdict.message = std::move(message);
  return verdict;
}

}  // namespace

std::string sha256_hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  return to_hex(digest, length);
}

// As botocore's remove_dot_segments: "." and empty segments dropped, ".."
// drops the one before, the leading and trailing slash kept.
std::string sigv4_canonical_uri(const std::string& raw_path) {
  if (raw_path.empty()) return "/";
  std::vector<std::string> kept;
  for (std::string& segment : split(raw_path, '/')) {
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      if (!kept.empty()) kept.pop_back();
      continue;
    }
    kept.push_back(std::move(segment));
  }
  std::string path = raw_path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < kept.size(); ++i) {
    if (i) path += '/';
    path += kept[i];
  }
  if (raw_path.back() == '/' && !kept.empty()) path += '/';
  // The path as sent is encoded once; the canonical form encodes it again.
  return percent_encode(path, /*keep_slash=*/true);
}

std::string sigv4_canonical_query(const std::string& raw_query) {
  std::vector<std::pair<std::string, std::string>> pairs;
  for (const auto& [name, value] : split_query(raw_query)) {
    pairs.emplace_back(percent_encode(percent_decode(name), false),
                       percent_encode(percent_decode(value), false));
  }
  std::sort(pairs.begin(), pairs.end());
  std::string out;
  for (const auto& [name, value] : pairs) {
    if (!out.empty()) out += '&';
    out += name + "=" + value;
  }
  return out;
}

SigV4Verdict verify_sigv4(const HttpRequest& request,
                          const std::map<std::string, std::string>& credentials,
                          std::chrono::system_clock::time_point now, const std::string& service) {
  const auto authorization_headers = request.header_values("authorization");
  if (authorization_headers.empty())
    return refuse("MissingAuthenticationTokenException", "Missing Authentication Token");
  if (authorization_headers.size() > 1)
    return refuse("IncompleteSignatureException", "More than one Authorization header.");
  std::string problem;
  auto auth = parse_authorization(authorization_headers.front(), &problem);
  if (!auth) return refuse("IncompleteSignatureException", problem);

  const auto key = credentials.find(auth->access_key_id);
  if (key == credentials.end()) {
    return refuse("UnrecognizedClientException",
                  "The security token included in the request is invalid.");
  }
  if (auth->service != service) {
    return refuse("InvalidSignatureException",
                  "Credential should be scoped to correct service: '" + service + "'.");
  }
  const std::string amz_date = request.header("x-amz-date");
  const auto signed_at = parse_amz_date(amz_date);
  if (!signed_at) {
    return refuse("IncompleteSignatureException",
                  "Authorization header requires existence of a valid 'X-Amz-Date' header "
                  "(YYYYMMDD'T'HHMMSS'Z').");
  }
  if (auth->date != amz_date.substr(0, 8)) {
    return refuse("InvalidSignatureException",
                  "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of "
                  "date from HTTP: '" +
                      auth->date + "' != '" + amz_date.substr(0, 8) + "'.");
  }
  if (*signed_at < now - kMaxSignatureSkew) {
    return refuse("InvalidSignatureException",
                  "Signature expired: " + amz_date + " is now earlier than " +
                      format_amz_date(now - kMaxSignatureSkew) + " (" + format_amz_date(now) +
                      " - 5 min.)");
  }
  if (*signed_at > now + kMaxSignatureSkew) {
    return refuse("InvalidSignatureException",
                  "Signature not yet current: " + amz_date + " is still later than " +
                      format_amz_date(now + kMaxSignatureSkew) + " (" + format_amz_date(now) +
                      " + 5 min.)");
  }
  if (std::find(auth->signed_headers.begin(), auth->signed_headers.end(), "host") ==
      auth->signed_headers.end()) {
    return refuse("InvalidSignatureException",
                  "'Host' must be a 'SignedHeader' in the AWS Authorization.");
  }

  // The body is covered by its hash; a claimed hash must be the real one.
  const std::string body_hash = sha256_hex(request.body);
  const auto claimed = request.header_values("x-amz-content-sha256");
  if (!claimed.empty() && to_lower_ascii(trim(claimed.front())) != body_hash) {
    return refuse("InvalidSignatureException",
                  "The provided 'x-amz-content-sha256' header does not match what was computed.");
  }

  std::string canonical_headers;
  std::string signed_list;
  for (const std::string& name : auth->signed_headers) {
    if (name.empty() || name != to_lower_ascii(name)) {
      return refuse("InvalidSignatureException",
                    "SignedHeaders must be lower-case names separated by ';'.");
    }
    std::string joined;
    for (const std::string& value : request.header_values(name)) {
      if (!joined.empty()) joined += ',';
      joined += trim_all(value);
    }
    canonical_headers += name + ":" + joined + "\n";
    if (!signed_list.empty()) signed_list += ';';
    signed_list += name;
  }
  const std::string canonical_request =
      request.method + "\n" + sigv4_canonical_uri(request.raw_path) + "\n" +
      sigv4_canonical_query(request.raw_query) + "\n" + canonical_headers + "\n" + signed_list +
      "\n" + (claimed.empty() ? body_hash : std::string(trim(claimed.front())));
  const std::string scope =
      auth->date + "/" + auth->region + "/" + auth->service + "/aws4_request";
  const std::string string_to_sign = std::string(kAlgorithm) + "\n" + amz_date + "\n" + scope +
                                     "\n" + sha256_hex(canonical_request);
  std::string signing_key = hmac_sha256("AWS4" + key->second, auth->date);
  signing_key = hmac_sha256(signing_key, auth->region);
  signing_key = hmac_sha256(signing_key, auth->service);
  signing_key = hmac_sha256(signing_key, "aws4_request");
  const std::string raw_signature = hmac_sha256(signing_key, string_to_sign);
  const std::string expected = to_hex(reinterpret_cast<const unsigned char*>(raw_signature.data()),
                                      raw_signature.size());
  const std::string given = to_lower_ascii(auth->signature);
  if (given.size() != expected.size() ||
      CRYPTO_memcmp(given.data(), expected.data(), expected.size()) != 0) {
    return refuse("InvalidSignatureException",
                  "The request signature we calculated does not match the signature you "
                  "provided. Check your AWS Secret Access Key and signing method. Consult the "
                  "service documentation for details.");
  }
  SigV4Verdict verdict;
  verdict.ok = true;
  verdict.access_key_id = auth->access_key_id;
  verdict.region = auth->region;
  return verdict;
}

}  // namespace sprout::http
