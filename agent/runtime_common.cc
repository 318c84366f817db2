#include "agent/runtime.h"

namespace sprout::agent {

InitResult init_error(std::string type, std::string message) {
  InitResult result;
  result.set_ok(false);
  result.set_error_type(std::move(type));
  result.set_error_message(std::move(message));
  return result;
}

std::optional<std::string> handler_path(const std::string& handler, const char* what,
                                        InitResult* error) {
  if (handler.empty() || handler.find("..") != std::string::npos || handler[0] == '/') {
    *error = init_error("Runtime.InvalidEntrypoint", std::string("handler must name ") + what +
                                                         " in the bundle: '" + handler + "'");
    return std::nullopt;
  }
  return "/var/task/" + handler;
}

InvokeReply function_error(std::string type, std::string message) {
  InvokeReply reply;
  reply.set_kind(InvokeReply::FUNCTION_ERROR);
  reply.set_error_type(std::move(type));
  reply.set_error_message(std::move(message));
  return reply;
}

}  // namespace sprout::agent
