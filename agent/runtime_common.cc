#include "agent/runtime.h"

namespace sprout::agent {

InitResult init_error(std::string type, std::string message) {
  InitResult result;
  result.set_ok(false);
  result.set_error_type(std::move(type));
  result.set_error_message(std::move(message));
  return result;
}

InvokeReply function_error(std::string type, std::string message) {
  InvokeReply reply;
  reply.set_kind(InvokeReply::FUNCTION_ERROR);
  reply.set_error_type(std::move(type));
  reply.set_error_message(std::move(message));
  return reply;
}

}  // namespace sprout::agent
