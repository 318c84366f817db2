// The python3 runtime against the AWS Lambda Python contract, with real
// zygotes, snapshots and sandboxes.
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "tests/snapshot/snapshot_fixture.h"

namespace sprout::testing {
namespace {

class PythonRuntimeTest : public SnapshotTest {};

TEST_F(PythonRuntimeTest, HelloExampleAnswers) {
  auto def = python_function(read_file(SPROUT_EXAMPLES_DIR "/python/hello/handler.py"),
                             "handler.handler", "handler.py");
  auto snapshot = load_ok(def);
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, R"({"name": "sprout"})");
  EXPECT_EQ(result.status, InvocationStatus::kOk) << result.detail << "\n" << result.logs;
  EXPECT_EQ(result.result, R"({"message": "hello, sprout"})");
  EXPECT_FALSE(result.metrics.preforked);
  EXPECT_GT(result.metrics.fork_us, 0u);
}

// The kernel's counters of the sandbox reach the metrics: a handler that
// blocks 20 times makes at least 20 voluntary context switches, and one
// that writes 32 MiB takes more page faults than one that returns at once.
TEST_F(PythonRuntimeTest, MetricsCarryTheSandboxsFaultsAndContextSwitches) {
  auto def = python_function(
      "import time\n"
      "def h(event, context):\n"
      "    if event.get('sleep'):\n"
      "        for _ in range(20):\n"
      "            time.sleep(0.001)\n"
      "    if event.get('touch'):\n"
      "        block = bytearray(32 << 20)\n"
      "        for i in range(0, len(block), 4096):\n"
      "            block[i] = 1\n"
      "    return 1\n",
      "fn.h");
  auto snapshot = load_ok(def);
  ASSERT_TRUE(snapshot);
  auto idle = invoke(*snapshot, "{}");
  auto sleeper = invoke(*snapshot, R"({"sleep": true})");
  auto toucher = invoke(*snapshot, R"({"touch": true})");
  for (const auto* result : {&idle, &sleeper, &toucher})
    ASSERT_EQ(result->status, InvocationStatus::kOk) << result->detail << result->logs;
  EXPECT_GT(idle.metrics.minor_faults, 0u) << "a forked sandbox writes at least its stack";
  EXPECT_GE(sleeper.metrics.voluntary_switches, 20u);
  EXPECT_GT(toucher.metrics.minor_faults, idle.metrics.minor_faults);
}

// Lambda's root-logger handler: code written for Lambda logs through the
// standard logging module and finds its lines, in Lambda's format, in the
// invocation's log; the root level is WARNING until the function lowers it.
TEST_F(PythonRuntimeTest, RootLoggerWritesLambdaLinesWithTheRequestId) {
  auto def = python_function(
      "import logging\n"
      "logger = logging.getLogger()\n"
      "def h(event, context):\n"
      "    logging.basicConfig(format='%(message)s')  # no effect, as on Lambda\n"
      "    logger.info('before the level is set')\n"
      "    logger.warning('a warning')\n"
      "    logger.setLevel(logging.INFO)\n"
      "    logger.info('hello %s', event['name'])\n"
      "    return 1\n",
      "fn.h");
  auto snapshot = load_ok(def);
  ASSERT_TRUE(snapshot);
  auto result = snapshot->invoke({.request_id = "req-log-1", .payload = R"({"name": "sprout"})"});
  ASSERT_TRUE(result.has_value()) << result.error().message();
  ASSERT_EQ(result->status, InvocationStatus::kOk) << result->detail << result->logs;
  const std::regex line(
      "\\[(WARNING|INFO)\\]\t\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}\\.\\d{3}Z\treq-log-1\t(.*)");
  std::vector<std::string> messages;
  std::istringstream lines(result->logs);
  for (std::string text; std::getline(lines, text);) {
    std::smatch match;
    ASSERT_TRUE(std::regex_match(text, match, line)) << "not a Lambda log line: " << text;
    messages.push_back(match[1].str() + " " + match[2].str());
  }
  EXPECT_EQ(messages, (std::vector<std::string>{"WARNING a warning", "INFO hello sprout"}));
}

TEST_F(PythonRuntimeTest, UnmodifiedLambdaHandlerSeesEveryContextField) {
  auto def =
      python_function(read_file(SPROUT_EXAMPLES_DIR "/python/lambda-context/lambda_function.py"),
                      "lambda_function.lambda_handler", "lambda_function.py");
  def.sandbox.add_env("GREETING=hi");
  auto snapshot = load_ok(def);
  ASSERT_TRUE(snapshot);
  auto result = snapshot->invoke(
      {.request_id = "req-123", .payload = R"({"k": [1, 2]})", .timeout_ms = 2000});
  ASSERT_TRUE(result.has_value()) << result.error().message();
  ASSERT_EQ(result->status, InvocationStatus::kOk) << result->detail << "\n" << result->logs;
  const std::string& body = result->result;
  for (const char* expected :
       {R"("function_name": "test-fn")", R"("function_version": "7")",
        R"("invoked_function_arn": "arn:sprout:lambda:local:000000000000:function:test-fn:7")",
        R"("memory_limit_in_mb": 128)", R"("aws_request_id": "req-123")",
        R"("log_group_name": "/sprout/test-fn")", R"("log_stream_name": "7/req-123")",
        R"("event": {"k": [1, 2]})", R"("task_root": "/var/task")", R"("env_greeting": "hi")",
        R"("calls_seen": 1)"}) {
    EXPECT_NE(body.find(expected), std::string::npos) << expected << " in " << body;
  }
  // get_remaining_time_in_millis() counts down from the timeout during the call.
  int before = -1, after = -1;
  ASSERT_EQ(sscanf(body.c_str() + body.find("\"remaining_before\": ") + 20, "%d", &before), 1);
  ASSERT_EQ(sscanf(body.c_str() + body.find("\"remaining_after\": ") + 19, "%d", &after), 1);
  EXPECT_GT(before, 1000);
  EXPECT_LE(before, 2000);
  EXPECT_LT(after, before);
  EXPECT_NE(result->logs.find("handling req-123"), std::string::npos) << result->logs;
}

TEST_F(PythonRuntimeTest, UncaughtExceptionBecomesFunctionErrorAsLambdaReportsIt) {
  auto snapshot =
      load_ok(python_function("def fail(event, context):\n"
                              "    helper()\n"
                              "def helper():\n"
                              "    raise ValueError('bad input: %s' % 42)\n",
                              "fn.fail"));
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, "{}");
  EXPECT_EQ(result.status, InvocationStatus::kFunctionError);
  EXPECT_EQ(result.error_type, "ValueError");
  EXPECT_EQ(result.error_message, "bad input: 42");
  ASSERT_EQ(result.stack_trace.size(), 2u);
  EXPECT_NE(result.stack_trace[0].find("File \"/var/task/fn.py\", line 2, in fail"),
            std::string::npos)
      << result.stack_trace[0];
  EXPECT_NE(result.stack_trace[1].find("line 4, in helper"), std::string::npos)
      << result.stack_trace[1];
}

TEST_F(PythonRuntimeTest, NonJsonPayloadArrivesAsBytes) {
  auto snapshot = load_ok(python_function(
      "def h(event, context):\n"
      "    return {'type': type(event).__name__, 'length': len(event), 'first': event[0]}\n",
      "fn.h"));
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, std::string("\xff\x00not json", 10));
  EXPECT_EQ(result.status, InvocationStatus::kOk) << result.detail;
  EXPECT_EQ(result.result, R"({"type": "bytes", "length": 10, "first": 255})");
}

TEST_F(PythonRuntimeTest, MultiMegabytePayloadAndResult) {
  auto snapshot =
      load_ok(python_function("def h(event, context):\n"
                              "    return {'echo': event['blob'], 'length': len(event['blob'])}\n",
                              "fn.h"));
  ASSERT_TRUE(snapshot);
  const std::string blob(4 * 1024 * 1024, 'x');
  auto result = invoke(*snapshot, R"({"blob": ")" + blob + R"("})");
  ASSERT_EQ(result.status, InvocationStatus::kOk) << result.detail;
  EXPECT_NE(result.result.find(R"("length": 4194304)"), std::string::npos);
  EXPECT_GT(result.result.size(), blob.size());
}

TEST_F(PythonRuntimeTest, UnicodeRoundTrips) {
  auto snapshot =
      load_ok(python_function("def h(event, context):\n"
                              "    s = event['s']\n"
                              "    return {'upper': s.upper(), 'chars': len(s)}\n",
                              "fn.h"));
  ASSERT_TRUE(snapshot);
  auto result =
      invoke(*snapshot, "{\"s\": \"h\xc3\xa9llo \xe2\x9c\x93 \xe6\x97\xa5\xe6\x9c\xac\"}");
  ASSERT_EQ(result.status, InvocationStatus::kOk) << result.detail;
  EXPECT_EQ(result.result, R"({"upper": "H\u00c9LLO \u2713 \u65e5\u672c", "chars": 10})");
}

TEST_F(PythonRuntimeTest, InitRunsOncePerSnapshotAndInvocationsShareNothing) {
  auto loaded =
      load(python_function("import time\n"
                           "print('init ran')\n"
                           "LOADED_AT = time.monotonic_ns()\n"
                           "STATE = {'calls': 0}\n"
                           "def h(event, context):\n"
                           "    STATE['calls'] += 1\n"
                           "    return {'loaded_at': LOADED_AT, 'calls': STATE['calls']}\n",
                           "fn.h"));
  ASSERT_TRUE(loaded.snapshot);
  EXPECT_EQ(loaded.init_logs, "init ran\n");
  std::string first;
  for (int i = 0; i < 3; ++i) {
    auto result = invoke(*loaded.snapshot, "{}");
    ASSERT_EQ(result.status, InvocationStatus::kOk) << result.detail;
    // Every invocation starts from the snapshot: the mutation of the previous
    // one is gone, and the init's timestamp is the same, so it ran once.
    EXPECT_NE(result.result.find(R"("calls": 1)"), std::string::npos) << result.result;
    if (i == 0) first = result.result;
    EXPECT_EQ(result.result, first);
    EXPECT_EQ(result.logs.find("init ran"), std::string::npos);
  }
}

TEST_F(PythonRuntimeTest, EachCloneDrawsItsOwnRandomNumbers) {
  auto snapshot = load_ok(
      python_function("import random\n"
                      "random.seed(1234)  # a snapshot-wide state that clones must not share\n"
                      "def h(event, context):\n"
                      "    return random.random()\n",
                      "fn.h"));
  ASSERT_TRUE(snapshot);
  auto a = invoke(*snapshot, "{}");
  auto b = invoke(*snapshot, "{}");
  ASSERT_EQ(a.status, InvocationStatus::kOk);
  ASSERT_EQ(b.status, InvocationStatus::kOk);
  EXPECT_NE(a.result, b.result);
}

TEST_F(PythonRuntimeTest, InitErrorsAreClear) {
  struct Case {
    std::string source, handler, type, message_part;
  };
  const Case cases[] = {
      {"def h(event, context)\n    return 1\n", "fn.h", "Runtime.UserCodeSyntaxError",
       "Syntax error in module 'fn'"},
      {"def h(event, context):\n    return 1\n", "fn.missing", "Runtime.HandlerNotFound",
       "Handler 'missing' missing on module 'fn'"},
      {"def h(event, context):\n    return 1\n", "nomodule.h", "Runtime.ImportModuleError",
       "No module named 'nomodule'"},
      {"def h(event, context):\n    return 1\n", "nodot", "Runtime.MalformedHandlerName",
       "expected module.function"},
      {"import json\nraise RuntimeError('config missing')\n", "fn.h", "RuntimeError",
       "config missing"},
      {"import no_such_dependency\n", "fn.h", "Runtime.ImportModuleError",
       "No module named 'no_such_dependency'"},
  };
  for (const auto& c : cases) {
    auto loaded = load(python_function(c.source, c.handler));
    EXPECT_FALSE(loaded.snapshot) << c.handler;
    EXPECT_FALSE(loaded.init.ok());
    EXPECT_EQ(loaded.init.error_type(), c.type) << c.source;
    EXPECT_NE(loaded.init.error_message().find(c.message_part), std::string::npos)
        << loaded.init.error_message();
  }
  // The zygote survives its snapshots' failures and still loads good code.
  auto snapshot = load_ok(python_function("def h(event, context):\n    return 'fine'\n", "fn.h"));
  ASSERT_TRUE(snapshot);
  EXPECT_EQ(invoke(*snapshot, "{}").result, "\"fine\"");
}

TEST_F(PythonRuntimeTest, ModuleLevelExceptionCarriesItsTraceback) {
  auto loaded = load(python_function("def boom():\n    raise KeyError('k')\nboom()\n", "fn.h"));
  ASSERT_FALSE(loaded.init.ok());
  EXPECT_EQ(loaded.init.error_type(), "KeyError");
  ASSERT_FALSE(loaded.init.stack_trace().empty());
  EXPECT_NE(loaded.init.stack_trace(loaded.init.stack_trace_size() - 1).find("line 2, in boom"),
            std::string::npos);
}

TEST_F(PythonRuntimeTest, UnserializableResultIsAMarshalError) {
  auto snapshot = load_ok(python_function("def h(event, context):\n    return object()\n", "fn.h"));
  ASSERT_TRUE(snapshot);
  auto result = invoke(*snapshot, "{}");
  EXPECT_EQ(result.status, InvocationStatus::kFunctionError);
  EXPECT_EQ(result.error_type, "Runtime.MarshalError");
}

TEST_F(PythonRuntimeTest, LogsAreCapturedPerInvocationAndBounded) {
  auto snapshot =
      load_ok(python_function("import sys\n"
                              "def h(event, context):\n"
                              "    print('out', context.aws_request_id)\n"
                              "    print('err', context.aws_request_id, file=sys.stderr)\n"
                              "    if event.get('flood'):\n"
                              "        print('x' * 200000)\n"
                              "    return 1\n",
                              "fn.h"));
  ASSERT_TRUE(snapshot);
  auto a = snapshot->invoke({.request_id = "first", .payload = "{}"});
  auto b = snapshot->invoke({.request_id = "second", .payload = "{}"});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->logs, "out first\nerr first\n");
  EXPECT_EQ(b->logs, "out second\nerr second\n");
  auto flood = invoke(*snapshot, R"({"flood": true})");
  EXPECT_TRUE(flood.logs_truncated);
  EXPECT_EQ(flood.logs.rfind("[sprout: ", 0), 0u);
  EXPECT_LE(flood.logs.size(), 64u * 1024 + 100);
}

}  // namespace
}  // namespace sprout::testing
