// Lambda's FunctionName and Qualifier, as the Invoke API takes them: a bare
// name ("my-function"), a name with a qualifier ("my-function:1"), a full
// ARN ("arn:aws:lambda:us-east-1:123456789012:function:my-function[:1]"),
// or a partial ARN ("123456789012:function:my-function[:1]"); the
// ?Qualifier= of the query must then agree with the one in the name. Pure.
#pragma once

#include <string>
#include <string_view>

namespace sprout::http {

// The account sproutd reports in ARNs (it has no AWS account).
inline constexpr std::string_view kAccountId = "000000000000";

struct FunctionReference {
  std::string name;
  std::string qualifier;  // "" when none: $LATEST
  std::string error;      // set when the input is malformed (400)
};

// `function_name`: the path segment, percent-decoded. `query_qualifier`:
// the decoded ?Qualifier=, "" when absent.
FunctionReference parse_function_reference(std::string_view function_name,
                                           std::string_view query_qualifier);

// "arn:aws:lambda:REGION:000000000000:function:NAME[:QUALIFIER]".
std::string function_arn(std::string_view region, std::string_view name,
                         std::string_view qualifier = {});

}  // namespace sprout::http
