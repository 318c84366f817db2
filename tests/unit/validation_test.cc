// supervisor/validation: the function specs and tenant names sproutd
// refuses, and the defaults it fills in.
#include "supervisor/validation.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sprout {
namespace {

TEST(Validation, RefusesWhatSproutdMustNotActOn) {
  api::FunctionSpec spec;
  spec.set_name("ok-name_1");
  spec.set_runtime(api::PYTHON3);
  spec.set_handler("pkg.module.handler");
  spec.set_code("x");
  spec.set_code_format(api::SINGLE_FILE);
  spec.set_code_file_name("module.py");
  EXPECT_EQ(supervisor::validate_function_spec(spec), "");
  auto problem = [&](auto change) {
    api::FunctionSpec changed = spec;
    change(changed);
    return supervisor::validate_function_spec(changed);
  };
  EXPECT_NE(problem([](auto& s) { s.set_name("../etc"); }), "");
  EXPECT_NE(problem([](auto& s) { s.set_name(std::string(65, 'a')); }), "");
  EXPECT_NE(problem([](auto& s) { s.set_handler("nodot"); }), "");
  EXPECT_NE(problem([](auto& s) {
              s.set_runtime(api::NATIVE);
              s.set_handler("../lib.so");
            }),
            "");
  EXPECT_NE(problem([](auto& s) { s.set_code_file_name("dir/file.py"); }), "");
  EXPECT_NE(problem([](auto& s) { s.set_memory_mb(8); }), "");
  EXPECT_NE(problem([](auto& s) { s.set_timeout_ms(900001); }), "");
  EXPECT_NE(problem([](auto& s) { (*s.mutable_env())["BAD-KEY"] = "v"; }), "");
  EXPECT_NE(problem([](auto& s) { (*s.mutable_env())["BIG"] = std::string(5000, 'v'); }), "");
  EXPECT_NE(problem([](auto& s) { s.add_pre_imports("os; import sys"); }), "");
  EXPECT_NE(problem([](auto& s) {
              s.set_prefork_min(5);
              s.set_prefork_max(2);
            }),
            "");
  // Found by fuzz_request_validation: prefork_min alone bypassed the cap of
  // 64; "." and ".." passed as file names (refused late, by the agent); a
  // handler of 64 KiB overflowed the stack of std::regex (sproutd died).
  EXPECT_EQ(problem([](auto& s) { s.set_prefork_min(100000); }),
            "prefork_min must be at most 64");
  EXPECT_NE(problem([](auto& s) { s.set_code_file_name(".."); }), "");
  EXPECT_NE(problem([](auto& s) { s.set_code_file_name("."); }), "");
  EXPECT_EQ(problem([](auto& s) { s.set_handler("a." + std::string(64 << 10, 'b')); }),
            "handler longer than 1024 bytes");
  EXPECT_NE(problem([](auto& s) { s.add_pre_imports(std::string(64 << 10, 'm')); }), "");
  api::FunctionSpec defaults = spec;
  supervisor::apply_function_defaults(defaults);
  EXPECT_EQ(defaults.memory_mb(), 128u);
  EXPECT_EQ(defaults.timeout_ms(), 3000u);
  EXPECT_EQ(defaults.prefork_max(), 4u);
  defaults.set_no_prefork(true);
  supervisor::apply_function_defaults(defaults);
  EXPECT_EQ(defaults.prefork_max(), 0u);
}

TEST(Validation, TenantNamesAndTheFunctionsOwnTenant) {
  api::FunctionSpec spec;
  spec.set_name("hello");
  spec.set_runtime(api::EXEC);
  spec.set_handler("run.sh");
  spec.set_code("x");
  spec.set_code_format(api::SINGLE_FILE);
  spec.set_code_file_name("run.sh");
  EXPECT_EQ(supervisor::validate_function_spec(spec), "") << "empty: a tenant of its own";
  EXPECT_EQ(supervisor::effective_tenant(spec), "fn:hello");
  for (const char* good : {"acme", "A-b_9", "hello"}) {
    spec.set_tenant(good);
    EXPECT_EQ(supervisor::validate_function_spec(spec), "") << good;
    EXPECT_EQ(supervisor::effective_tenant(spec), good);
  }
  // A named tenant can never be taken for a function's own ("fn:<name>").
  for (const std::string& bad :
       std::vector<std::string>{"fn:hello", "a b", "../x", "x/y", std::string(65, 't')}) {
    spec.set_tenant(bad);
    EXPECT_NE(supervisor::validate_function_spec(spec).find("tenant must match"), std::string::npos)
        << bad;
  }
  spec.set_tenant(std::string(64, 't'));
  EXPECT_EQ(supervisor::validate_function_spec(spec), "");
}

TEST(Validation, FunctionUrlAndItsCors) {
  api::FunctionSpec spec;
  spec.set_name("web");
  spec.set_runtime(api::PYTHON3);
  spec.set_handler("app.handler");
  spec.set_code("x");
  spec.set_code_format(api::SINGLE_FILE);
  spec.set_code_file_name("app.py");
  auto* url = spec.mutable_url();
  url->set_enabled(true);
  url->add_cors_allow_origins("*");
  url->add_cors_allow_origins("https://example.com:8443");
  url->add_cors_allow_methods("GET");
  url->add_cors_allow_methods("*");
  url->add_cors_allow_headers("x-custom-header");
  url->add_cors_expose_headers("X-Request-Id");
  url->set_cors_max_age_s(86400);
  url->set_cors_allow_credentials(true);
  EXPECT_EQ(supervisor::validate_function_spec(spec), "");
  auto problem = [&](auto change) {
    api::FunctionSpec changed = spec;
    change(*changed.mutable_url());
    return supervisor::validate_function_spec(changed);
  };
  EXPECT_NE(problem([](auto& u) { u.set_enabled(false); }).find("url.enabled is false"),
            std::string::npos)
      << "CORS without a URL is a mistake worth saying";
  for (const char* bad : {"example.com", "ftp://x", "https://", "https://a b", "https://x/path",
                          "https://x,https://y"}) {
    EXPECT_NE(problem([&](auto& u) { u.add_cors_allow_origins(bad); })
                  .find("cors_allow_origins"),
              std::string::npos)
        << bad;
  }
  EXPECT_NE(problem([](auto& u) { u.add_cors_allow_methods("get"); }), "") << "case matters";
  EXPECT_NE(problem([](auto& u) { u.add_cors_allow_methods("TRACE"); }), "");
  EXPECT_NE(problem([](auto& u) { u.add_cors_allow_headers("bad header"); }), "");
  EXPECT_NE(problem([](auto& u) { u.add_cors_expose_headers("x\r\ny"); }), "");
  EXPECT_NE(problem([](auto& u) { u.add_cors_allow_headers(std::string(1025, 'h')); }), "");
  EXPECT_NE(problem([](auto& u) { u.set_cors_max_age_s(86401); }), "");
  EXPECT_NE(problem([](auto& u) {
              for (int i = 0; i < 101; ++i) u.add_cors_allow_headers("h" + std::to_string(i));
            }),
            "");
  api::FunctionSpec plain = spec;
  plain.clear_url();
  EXPECT_EQ(supervisor::validate_function_spec(plain), "") << "no URL at all is the default";
}

}  // namespace
}  // namespace sprout
