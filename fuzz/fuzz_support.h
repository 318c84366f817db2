// Shared by the fuzz targets of fuzz/.
#pragma once

#include <google/protobuf/stubs/logging.h>

#include <string>

namespace sprout::fuzz {

// Protobuf logs every malformed message and text it is given at ERROR, to
// stderr: for a fuzzer that is most inputs, and the logging costs more than
// the parsing. A real failure still aborts and is reported by the sanitizer.
inline void silence_protobuf_logs() {
  google::protobuf::SetLogHandler(
      [](google::protobuf::LogLevel, const char*, int, const std::string&) {});
}

}  // namespace sprout::fuzz
