// Every CLI subcommand against the real daemon, in human and --json forms.
#include <signal.h>

#include <cstdlib>

#include "tests/e2e/daemon_fixture.h"

namespace sprout::testing {
namespace {

class CliTest : public DaemonTest {};

TEST_F(CliTest, EverySubcommandWorks) {
  start_daemon();
  const std::string examples = SPROUT_EXAMPLES_DIR;
  auto deployed = sprout({"deploy", "hello", "--runtime", "python3", "--code",
                          examples + "/python/hello/handler.py", "--memory-mb", "64",
                          "--timeout-ms", "2000", "--env", "A=1", "--max-concurrency", "4"});
  EXPECT_EQ(deployed.exit_code, 0) << deployed.err;
  EXPECT_EQ(deployed.out, "deployed hello v1 (python3, 193 bytes)\n");

  auto invoked = sprout({"invoke", "hello", "--payload", R"({"name": "cli"})"});
  EXPECT_EQ(invoked.exit_code, 0) << invoked.err;
  EXPECT_EQ(invoked.out, "{\"message\": \"hello, cli\"}\n");

  const std::string payload_file = write_temp_file("payload.json", R"({"name": "file"})");
  auto from_file = sprout({"invoke", "hello", "--payload-file", payload_file, "--json"});
  EXPECT_EQ(from_file.exit_code, 0);
  // The log tail holds only Lambda's lines: hello prints nothing between
  // START and END.
  EXPECT_EQ(from_file.out.rfind(
                R"({"status": "OK", "result": {"message": "hello, file"}, "logs": "START RequestId: )",
                0),
            0u)
      << from_file.out;
  EXPECT_NE(from_file.out.find(R"( Version: 1\nEND RequestId: )"), std::string::npos)
      << from_file.out;
  EXPECT_NE(from_file.out.find(R"("metrics": {"queue_us": )"), std::string::npos);
  EXPECT_NE(from_file.out.find(R"("billed_ms": )"), std::string::npos);

  auto listed = sprout({"ls"});
  EXPECT_EQ(listed.exit_code, 0);
  EXPECT_NE(listed.out.find("hello                          1 python3         64       2000"),
            std::string::npos)
      << listed.out;
  EXPECT_NE(
      sprout({"ls", "--json"}).out.find(R"("name": "hello", "version": 1, "runtime": "python3")"),
      std::string::npos);

  auto got = sprout({"get", "hello"});
  EXPECT_EQ(got.exit_code, 0);
  EXPECT_NE(got.out.find("handler: handler.handler\n"), std::string::npos) << got.out;
  EXPECT_NE(got.out.find("env: A=1\n"), std::string::npos);
  EXPECT_NE(sprout({"get", "hello", "--json"}).out.find(R"("env": {"A": "1"})"), std::string::npos);

  auto stats = sprout({"stats", "hello", "--json"});
  EXPECT_EQ(stats.exit_code, 0);
  EXPECT_NE(stats.out.find(R"("invocations": 2, "by_status": {"OK": 2})"), std::string::npos)
      << stats.out;
  EXPECT_NE(sprout({"stats"}).out.find("OK=2"), std::string::npos);

  auto health = sprout({"health"});
  EXPECT_EQ(health.exit_code, 0);
  EXPECT_NE(health.out.find("serving: yes\n"), std::string::npos);
  EXPECT_NE(sprout({"health", "--json"}).out.find(R"("serving": true)"), std::string::npos);

  auto removed = sprout({"rm", "hello"});
  EXPECT_EQ(removed.exit_code, 0);
  EXPECT_EQ(removed.out, "deleted hello\n");
  EXPECT_NE(sprout({"rm", "hello", "--json"}).out.find(R"("status": "NOT_FOUND")"),
            std::string::npos);
}

TEST_F(CliTest, DistinctExitCodesAndReadableErrors) {
  start_daemon();
  deploy_python("fails", "def handler(event, context):\n    raise ValueError('nope')\n");
  auto failed = sprout({"invoke", "fails"});
  EXPECT_EQ(failed.exit_code, 12);  // 10 + FUNCTION_ERROR
  EXPECT_EQ(failed.err.rfind("FUNCTION_ERROR: ValueError: nope\n", 0), 0u) << failed.err;
  auto json = sprout({"invoke", "fails", "--json"});
  EXPECT_EQ(json.exit_code, 12);
  EXPECT_NE(
      json.out.find(
          R"("errorType": "ValueError", "errorMessage": "nope", "stackTrace": ["  File \"/var/task/handler.py\", line 2)"),
      std::string::npos)
      << json.out;

  auto missing = sprout({"invoke", "ghost"});
  EXPECT_EQ(missing.exit_code, 19);  // 10 + NOT_FOUND
  EXPECT_EQ(missing.err, "NOT_FOUND: function 'ghost' not found\n");

  auto bad_name = sprout({"deploy", "bad/name", "--runtime", "python3", "--code",
                          SPROUT_EXAMPLES_DIR "/python/hello/handler.py"});  // NOLINT(bugprone-suspicious-missing-comma): macro joined with a literal
  EXPECT_EQ(bad_name.exit_code, 20);  // 10 + INVALID_ARGUMENT
  EXPECT_NE(bad_name.err.find("function name must match"), std::string::npos);

  auto usage = sprout({"invoke"});
  EXPECT_EQ(usage.exit_code, 2);

  const std::string broken = write_temp_file("broken/handler.py", "import no_such_module\n");
  auto init = sprout({"deploy", "broken", "--runtime", "python3", "--code", broken});
  EXPECT_EQ(init.exit_code, 13);  // 10 + INIT_ERROR
  EXPECT_NE(
      init.err.find("INIT_ERROR: Runtime.ImportModuleError: Unable to import module 'handler'"),
      std::string::npos)
      << init.err;

  stop_daemon();
  auto down = sprout({"health"});
  EXPECT_EQ(down.exit_code, 22);  // 10 + UNAVAILABLE
  EXPECT_EQ(down.err, "UNAVAILABLE: sproutd is not running at " + socket_ + "\n");
}

TEST_F(CliTest, DirectoryCodeIsPackedAndNativeAndExecRun) {
  start_daemon();
  const std::string app = dir_ + "/app";
  write_temp_file("app/pkg/__init__.py", "");
  write_temp_file("app/pkg/words.py", "WORD = 'packed'\n");
  write_temp_file("app/main.py",
                  "from pkg.words import WORD\ndef handler(event, context):\n    return WORD\n");
  auto deployed =
      sprout({"deploy", "dir", "--runtime", "python3", "--code", app, "--handler", "main.handler"});
  EXPECT_EQ(deployed.exit_code, 0) << deployed.err;
  EXPECT_EQ(sprout({"invoke", "dir"}).out, "\"packed\"\n");

  EXPECT_EQ(sprout({"deploy", "cnative", "--runtime", "native", "--code", SPROUT_NATIVE_HELLO_PATH})
                .exit_code,
            0);
  auto native = sprout({"invoke", "cnative", "--payload", "abc"});
  EXPECT_EQ(native.out, R"({"message":"hello from C","bytes":3,"init":42,"function":"cnative"})"
                        "\n")
      << native.err;

  const std::string shell_script = std::string(SPROUT_EXAMPLES_DIR) + "/exec/hello/run.sh";
  EXPECT_EQ(sprout({"deploy", "shell", "--runtime", "exec", "--code", shell_script}).exit_code, 0);
  EXPECT_EQ(sprout({"invoke", "shell", "--payload", "[1]"}).out,
            R"({"message":"hello from sh","payload":[1]})"
            "\n");
}

TEST_F(CliTest, ZipCodeAndFunctionUrlFlags) {
  start_daemon();
  write_temp_file("zipsrc/pkg/__init__.py", "");
  write_temp_file("zipsrc/pkg/words.py", "WORD = 'zipped'\n");
  write_temp_file("zipsrc/app.py",
                  "from pkg.words import WORD\ndef handler(event, context):\n    return WORD\n");
  // A name without .zip: recognised by its magic bytes.
  const std::string bundle = dir_ + "/bundle.bin";
  ASSERT_EQ(std::system(("cd " + dir_ + "/zipsrc && zip -qr " + bundle + ".zip . && mv " + bundle +
                         ".zip " + bundle)
                            .c_str()),
            0);
  auto deployed = sprout({"deploy", "zipped", "--runtime", "python3", "--code", bundle, "--handler",
                          "app.handler", "--url", "--url-cors-origin", "https://a.example",
                          "--url-cors-origin", "https://b.example", "--url-cors-method", "GET",
                          "--url-cors-max-age-s", "300", "--url-cors-allow-credentials"});
  ASSERT_EQ(deployed.exit_code, 0) << deployed.err;
  EXPECT_EQ(sprout({"invoke", "zipped"}).out, "\"zipped\"\n");
  auto got = sprout({"get", "zipped"});
  EXPECT_NE(got.out.find("url: on cors-origins=https://a.example,https://b.example "
                         "cors-methods=GET cors-max-age-s=300 cors-allow-credentials\n"),
            std::string::npos)
      << got.out;
  EXPECT_NE(sprout({"get", "zipped", "--json"})
                .out.find(R"("url": {"enabled": true, "cors_allow_origins": ["https://a.example", )"
                          R"("https://b.example"], "cors_allow_methods": ["GET"])"),
            std::string::npos);

  // Without --url the URL is off; CORS flags alone are a usage error.
  deploy_python("plain", "def handler(event, context):\n    return 1\n");
  EXPECT_NE(sprout({"get", "plain"}).out.find("url: off\n"), std::string::npos);
  const std::string zip = dir_ + "/app.zip";
  ASSERT_EQ(std::system(("cd " + dir_ + "/zipsrc && zip -qr " + zip + " .").c_str()), 0);
  auto cors_alone = sprout({"deploy", "x", "--runtime", "python3", "--code", zip, "--handler",
                            "app.handler", "--url-cors-origin", "*"});
  EXPECT_EQ(cors_alone.exit_code, 2);
  EXPECT_EQ(cors_alone.err, "sprout: the --url-cors-* flags need --url\n");
  auto no_handler = sprout({"deploy", "x", "--runtime", "python3", "--code", zip});
  EXPECT_EQ(no_handler.exit_code, 2);
  EXPECT_EQ(no_handler.err, "sprout: --handler is required when --code is a .zip archive\n");

  // A hostile archive is refused by the function's snapshot, naming the entry.
  const std::string evil = dir_ + "/evil.zip";
  ASSERT_EQ(std::system(("/usr/bin/python3 -c \"import zipfile; z = zipfile.ZipFile('" + evil +
                         "', 'w'); z.writestr('../escape.py', 'x = 1'); z.close()\"")
                            .c_str()),
            0);
  auto refused =
      sprout({"deploy", "evil", "--runtime", "python3", "--code", evil, "--handler", "app.handler"});
  EXPECT_EQ(refused.exit_code, 13);  // 10 + INIT_ERROR
  EXPECT_NE(refused.err.find("refusing zip entry with an absolute or escaping path: '../escape.py'"),
            std::string::npos)
      << refused.err;
  EXPECT_EQ(sprout({"get", "evil"}).exit_code, 19);  // nothing was stored
}

}  // namespace
}  // namespace sprout::testing
