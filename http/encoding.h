// The byte encodings of HTTP and AWS: base64 (X-Amz-Log-Result, binary
// bodies of function URLs), percent-encoding of paths and query strings
// (RFC 3986, as SigV4 canonicalizes them) and query-string parsing. Pure
// functions, thread-safe.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sprout::http {

std::string base64_encode(std::string_view bytes);
// Standard alphabet with padding (newlines and other whitespace refused);
// nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

// %XX sequences decoded; a '%' not followed by two hex digits is kept as it
// is (as browsers and AWS do). '+' is not a space here: it means one only
// in form bodies, never in a path, and SigV4 treats it as itself.
std::string percent_decode(std::string_view text);
// Every byte but the unreserved ones (A-Z a-z 0-9 - _ . ~) as %XX with
// upper-case hex; '/' kept too when `keep_slash`.
std::string percent_encode(std::string_view bytes, bool keep_slash);

// A raw query string split at '&' and '=' ("a=1&b&c=" gives (a,1), (b,),
// (c,)), names and values still encoded, empty pieces skipped.
std::vector<std::pair<std::string, std::string>> split_query(std::string_view raw_query);

std::string to_lower_ascii(std::string_view text);

}  // namespace sprout::http
