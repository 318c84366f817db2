#include "http/router.h"

#include <algorithm>
#include <random>

#include "base/log.h"
#include "http/encoding.h"
#include "http/function_name.h"
#include "http/function_url.h"
#include "http/invoke_answer.h"
#include "http/json.h"
#include "http/sigv4.h"
#include "supervisor/metrics_exposition.h"
#include "supervisor/validation.h"

namespace sprout::http {
namespace {

constexpr std::string_view kInvokePrefix = "/2015-03-31/functions/";
constexpr std::string_view kInvokeSuffix = "/invocations";
constexpr std::string_view kManagementPrefix = "/2015-03-31/";
constexpr std::string_view kFunctionUrlPrefix = "/fn/";
constexpr std::string_view kDefaultRegion = "us-east-1";

// A random (version 4) UUID, as AWS request ids are.
std::string new_request_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  const uint64_t high = random(), low = random();
  char text[40];
  std::snprintf(text, sizeof text, "%08x-%04x-4%03x-%04x-%012llx",
                static_cast<unsigned>(high >> 32), static_cast<unsigned>((high >> 16) & 0xFFFF),
                static_cast<unsigned>(high & 0x0FFF),
                static_cast<unsigned>(0x8000 | ((low >> 48) & 0x3FFF)),
                static_cast<unsigned long long>(low & 0xFFFFFFFFFFFFull));
  return text;
}

HttpAnswer plain_text(unsigned status, std::string body) {
  HttpAnswer answer;
  answer.status = status;
  answer.content_type = "text/plain; charset=utf-8";
  answer.body = std::move(body);
  return answer;
}

HttpAnswer unknown_operation(const HttpRequest& request) {
  return aws_error(404, "UnknownOperationException",
                   "Unknown operation: " + request.method + " " + request.raw_path);
}

std::string query_value(const HttpRequest& request, std::string_view name) {
  for (const auto& [raw_name, raw_value] : split_query(request.raw_query))
    if (percent_decode(raw_name) == name) return percent_decode(raw_value);
  return {};
}

}  // namespace

HttpRouter::HttpRouter(const supervisor::DaemonConfig& config,
                       supervisor::FunctionManager& manager, supervisor::EventService& events,
                       supervisor::ThreadPool& control_threads, std::function<bool()> draining)
    : config_(config),
      manager_(manager),
      events_(events),
      control_threads_(control_threads),
      draining_(std::move(draining)) {
  for (const auto& credential : config.http_credentials())
    credentials_[credential.access_key_id()] = credential.secret_access_key();
}

std::optional<HttpAnswer> HttpRouter::authorize(const HttpRequest& request,
                                                std::string* region) const {
  // A loopback client may skip signing (when allowed); a signature that is
  // there is checked all the same, so that a wrong one is never ignored.
  if (!request.has_header("authorization") && request.peer_loopback &&
      config_.http_allow_unauthenticated_loopback())
    return std::nullopt;
  SigV4Verdict verdict = verify_sigv4(request, credentials_, std::chrono::system_clock::now());
  if (!verdict.ok) return aws_error(403, verdict.error_type, verdict.message);
  *region = verdict.region;
  return std::nullopt;
}

namespace {

// No "." or ".." segment, no empty segment ("//"); a trailing slash is fine.
bool is_normal_path(std::string_view path) {
  if (!path.starts_with('/')) return false;
  size_t begin = 1;
  while (begin < path.size()) {
    size_t end = path.find('/', begin);
    if (end == std::string_view::npos) end = path.size();
    const std::string_view segment = path.substr(begin, end - begin);
    if (segment == "." || segment == ".." || (segment.empty() && end < path.size())) return false;
    begin = end + 1;
  }
  return true;
}

}  // namespace

std::optional<HttpAnswer> HttpRouter::refuse_unsigned(bool peer_loopback,
                                                      bool has_authorization) const {
  if (has_authorization || (peer_loopback && config_.http_allow_unauthenticated_loopback()))
    return std::nullopt;
  return aws_error(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
}

void HttpRouter::route(const std::shared_ptr<const HttpRequest>& request,
                       const std::shared_ptr<supervisor::CallCancellation>& cancellation,
                       std::chrono::steady_clock::time_point received, Respond respond) {
  const std::string request_id = new_request_id();
  // Every answer carries its request id, as AWS's do; an Event's answer
  // has already set the event's own (the id its handler will see).
  Respond answer = [respond = std::move(respond), request_id](HttpAnswer reply) {
    const bool has_id = std::any_of(reply.headers.begin(), reply.headers.end(),
                                    [](const auto& header) { return header.first == "x-amzn-RequestId"; });
    if (!has_id) reply.headers.emplace_back("x-amzn-RequestId", request_id);
    respond(std::move(reply));
  };
  std::string region(kDefaultRegion);
  if (auto refused = authorize(*request, &region)) return answer(std::move(*refused));

  const std::string& path = request->raw_path;
  const std::string& method = request->method;
  // A signature covers the normalized path (SigV4 removes dot segments and
  // doubled slashes) while routing reads the path as sent: a path that
  // normalizes to another could carry one function's signature to another.
  // Such paths are refused, not normalized.
  if (!is_normal_path(percent_decode(path))) {
    return answer(aws_error(400, "InvalidRequestContentException",
                            "the path has '.' or '..' segments or an empty segment"));
  }
  if (path == "/healthz") {
    if (method != "GET" && method != "HEAD") return answer(unknown_operation(*request));
    return answer(draining_() ? plain_text(503, "draining\n") : plain_text(200, "ok\n"));
  }
  if (path == "/metrics") {
    if (method != "GET" && method != "HEAD") return answer(unknown_operation(*request));
    return lookup_threads_.post([this, answer] {
      HttpAnswer metrics = plain_text(200, supervisor::render_prometheus_metrics(manager_));
      metrics.content_type = "text/plain; version=0.0.4; charset=utf-8";
      answer(std::move(metrics));
    });
  }
  if (path.starts_with(kInvokePrefix) && path.ends_with(kInvokeSuffix) && method == "POST") {
    const std::string segment = path.substr(
        kInvokePrefix.size(), path.size() - kInvokePrefix.size() - kInvokeSuffix.size());
    if (!segment.empty() && segment.find('/') == std::string::npos) {
      return invoke(request, percent_decode(segment), region, cancellation, received, answer);
    }
  }
  if (path.starts_with(kManagementPrefix)) {
    return control_threads_.post([this, request, answer] {
      std::optional<HttpAnswer> managed =
          handle_lambda_management(request->method, percent_decode(request->raw_path),
                                   request->raw_query, request->body, manager_);
      answer(managed ? std::move(*managed) : unknown_operation(*request));
    });
  }
  if (path.starts_with(kFunctionUrlPrefix)) {
    const std::string rest = path.substr(kFunctionUrlPrefix.size());
    const size_t slash = rest.find('/');
    const std::string name = percent_decode(rest.substr(0, slash));
    const std::string rest_path = slash == std::string::npos ? "/" : rest.substr(slash);
    if (supervisor::is_valid_function_name(name)) {
      return function_url(request, name, rest_path, request_id, cancellation, received, answer);
    }
    return answer(aws_error(404, "ResourceNotFoundException",
                            "no function URL at " + std::string(kFunctionUrlPrefix) + name));
  }
  answer(unknown_operation(*request));
}

void HttpRouter::invoke(const std::shared_ptr<const HttpRequest>& request,
                        const std::string& function_segment, const std::string& region,
                        const std::shared_ptr<supervisor::CallCancellation>& cancellation,
                        std::chrono::steady_clock::time_point received, const Respond& respond) {
  FunctionReference ref =
      parse_function_reference(function_segment, query_value(*request, "Qualifier"));
  if (!ref.error.empty())
    return respond(aws_error(400, "InvalidParameterValueException", ref.error));
  std::string type = request->header("x-amz-invocation-type");
  if (type.empty()) type = "RequestResponse";
  if (type != "RequestResponse" && type != "Event" && type != "DryRun") {
    return respond(aws_error(400, "InvalidParameterValueException",
                             "X-Amz-Invocation-Type must be RequestResponse, Event or DryRun, "
                             "not '" + type + "'"));
  }
  const std::string log_type = request->header("x-amz-log-type");
  if (!log_type.empty() && log_type != "None" && log_type != "Tail") {
    return respond(aws_error(400, "InvalidParameterValueException",
                             "X-Amz-Log-Type must be None or Tail, not '" + log_type + "'"));
  }
  const size_t limit = type == "Event" ? kMaxEventPayloadBytes : supervisor::kMaxPayloadBytes;
  if (request->body.size() > limit) {
    return respond(aws_error(413, "RequestTooLargeException",
                             "Request must be smaller than " + std::to_string(limit) +
                                 " bytes for the InvokeFunction operation"));
  }
  // Lambda requires a JSON event; an empty body is the null event.
  if (std::string problem; !request->body.empty() && !parse_json(request->body, &problem)) {
    return respond(aws_error(400, "InvalidRequestContentException",
                             "Could not parse request body into json: " + problem));
  }
  lookup_threads_.post([this, request, ref, type, log_type, region, cancellation, received,
                        respond] {
    api::Response found = manager_.get(ref.name);
    const std::string arn = function_arn(region, ref.name, ref.qualifier);
    if (found.status() == api::NOT_FOUND)
      return respond(aws_error(404, "ResourceNotFoundException", "Function not found: " + arn));
    if (found.status() != api::OK) return respond(service_error(found.status(), found.error()));
    const api::FunctionInfo& info = found.get().function();
    // $LATEST and the current version are served; sproutd keeps no other.
    if (!ref.qualifier.empty() && ref.qualifier != "$LATEST" &&
        ref.qualifier != std::to_string(info.version()))
      return respond(aws_error(404, "ResourceNotFoundException", "Function not found: " + arn));
    if (type == "DryRun") {
      HttpAnswer answer;
      answer.status = 204;
      answer.content_type.clear();
      return respond(std::move(answer));
    }
    api::InvokeRequest invocation;
    invocation.set_function(ref.name);
    invocation.set_payload(request->body);
    if (type == "Event") {
      // Answered 202 only once the event is on disk.
      api::Response queued = events_.submit(invocation);
      if (queued.status() != api::OK) return respond(service_error(queued.status(), queued.error()));
      HttpAnswer answer;
      answer.status = 202;
      answer.content_type.clear();
      answer.headers.emplace_back("x-amzn-RequestId", queued.invoke_async().invocation_id());
      return respond(std::move(answer));
    }
    InvokeAnswerOptions options{
        .tail_logs = log_type == "Tail",
        .executed_version = ref.qualifier.empty() ? "$LATEST" : ref.qualifier,
        .function_timeout_ms = info.spec().timeout_ms()};
    manager_.invoke(
        invocation, cancellation, received,
        [respond, options](const api::Response& response) {
          respond(invoke_answer(response, options));
        },
        {.source = api::HTTP});
  });
}

void HttpRouter::function_url(const std::shared_ptr<const HttpRequest>& request,
                              const std::string& name, const std::string& rest_path,
                              const std::string& request_id,
                              const std::shared_ptr<supervisor::CallCancellation>& cancellation,
                              std::chrono::steady_clock::time_point received,
                              const Respond& respond) {
  lookup_threads_.post([this, request, name, rest_path, request_id, cancellation, received,
                        respond] {
    api::Response found = manager_.get(name);
    if (found.status() == api::OK && !found.get().function().spec().url().enabled())
      found.set_status(api::NOT_FOUND);
    if (found.status() == api::NOT_FOUND) {
      return respond(aws_error(404, "ResourceNotFoundException",
                               "no function URL at " + std::string(kFunctionUrlPrefix) + name +
                                   " (no such function, or its URL is not enabled)"));
    }
    if (found.status() != api::OK) return respond(service_error(found.status(), found.error()));
    const api::FunctionUrlConfig url = found.get().function().spec().url();
    if (auto preflight = cors_preflight(*request, url)) return respond(std::move(*preflight));
    api::InvokeRequest invocation;
    invocation.set_function(name);
    invocation.set_payload(build_url_event(*request, {.function_name = name,
                                                      .raw_path = rest_path,
                                                      .request_id = request_id,
                                                      .now = std::chrono::system_clock::now()}));
    if (invocation.payload().size() > supervisor::kMaxPayloadBytes) {
      return respond(aws_error(413, "RequestTooLargeException",
                               "the request's event is over the 6 MiB payload limit"));
    }
    // The event's requestContext.requestId is the one the handler sees.
    manager_.invoke(invocation, cancellation, received,
                    [request, url, respond](const api::Response& response) {
                      const api::Status status =
                          response.has_invoke() ? response.invoke().status() : response.status();
                      HttpAnswer answer;
                      if (status == api::OK) {
                        answer = url_answer_from_result(response.invoke().result());
                      } else if (is_function_outcome(status)) {
                        answer = url_function_failed();
                      } else {
                        answer = service_error(status, response.error().empty()
                                                           ? response.invoke().detail()
                                                           : response.error());
                      }
                      add_cors_headers(*request, url, answer);
                      respond(std::move(answer));
                    },
                    {.source = api::HTTP, .request_id = request_id});
  });
}

}  // namespace sprout::http
