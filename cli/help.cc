#include "cli/help.h"

#include <map>

namespace sprout::cli {
namespace {

constexpr const char* kTail =
    "Every command takes --json (one JSON object on stdout) and --socket PATH\n"
    "(default $SPROUT_SOCKET, then /run/sprout/sprout.sock).\n";

const std::map<std::string, std::string>& helps() {
  static const std::map<std::string, std::string> texts = {
      {"deploy",
       "usage: sprout deploy NAME --runtime python3|native|exec --code PATH [--handler MOD.FN]\n"
       "         [--memory-mb N] [--timeout-ms N] [--env K=V]... [--max-concurrency N]\n"
       "         [--pre-import MODULE]... [--prefork-min N] [--prefork-max N] [--no-prefork]\n"
       "         [--tenant TENANT] [--url [--url-cors-origin ORIGIN]... [--url-cors-method M]...\n"
       "         [--url-cors-header H]... [--url-cors-expose-header H]... [--url-cors-max-age-s "
       "N]\n"
       "         [--url-cors-allow-credentials]]\n"
       "         [--async-retries N] [--async-max-age-s S] [--on-failure FN]\n"
       "Deploys a new version of NAME. --code takes a file, a directory (packed as tar,\n"
       "--handler required) or a .zip archive (--handler required).\n"
       "Asynchronous invocations (invoke --async, schedules, file triggers) that fail:\n"
       "  --async-retries N     retries after the first attempt, 0..2 (default 2)\n"
       "  --async-max-age-s S   oldest an event may be and still be tried, 60..21600 (default "
       "21600)\n"
       "  --on-failure FN       send the failure record of each exhausted event to function FN\n"
       "                        (default: keep it in NAME's dead-letter store, see sprout dlq)\n"
       "A redeploy without these flags returns them to their defaults.\n"},
      {"invoke",
       "usage: sprout invoke NAME [--payload JSON | --payload-file FILE] [--timeout-ms N] "
       "[--logs]\n"
       "       sprout invoke NAME --async [--payload JSON | --payload-file FILE]\n"
       "Runs NAME once and prints its result on stdout (exit 0), or STATUS: detail on stderr\n"
       "(exit 10 + the status). --logs copies the function's log tail to stderr.\n"
       "--async queues the event durably and prints its invocation id at once: the request id\n"
       "every attempt of it sees. Failed attempts are retried (see deploy --async-retries);\n"
       "follow it with sprout result ID, sprout history NAME or sprout dlq ls NAME.\n"},
      {"result",
       "usage: sprout result ID [--wait] [--logs]\n"
       "The outcome of an asynchronous invocation, printed as sprout invoke prints it.\n"
       "Without --wait, an invocation that has not finished prints \"ID: not finished\" on\n"
       "stderr and exits 3; --wait blocks until it has.\n"},
      {"ls", "usage: sprout ls\nOne line per deployed function.\n"},
      {"get", "usage: sprout get NAME\nThe current version of NAME, one key: value a line.\n"},
      {"rm", "usage: sprout rm NAME\nDeletes NAME and its stored versions.\n"},
      {"stats", "usage: sprout stats [NAME]\nInvocation counts, latencies and billing.\n"},
      {"health", "usage: sprout health\nWhether sproutd serves, and its live counts.\n"},
      {"history",
       "usage: sprout history NAME [--limit N] [--logs]\n"
       "NAME's recent invocations, newest first, whatever started them (default 20):\n"
       "request id, source (api, http, async, schedule, file, queue, with the schedule's or\n"
       "trigger's id), status, attempt, start (local time), duration, billed ms, and the\n"
       "result or error on one line. --logs adds each invocation's log tail; --json always\n"
       "has it.\n"},
      {"dlq",
       "usage: sprout dlq ls NAME [--limit N]\n"
       "       sprout dlq redrive NAME [REQUEST_ID]...\n"
       "Dead letters: NAME's asynchronous events that exhausted their retries or their\n"
       "maximum age. ls lists them, oldest first (default 100). redrive queues them again\n"
       "(all of NAME's, or the ones named) with their request ids, and prints how many.\n"},
      {"schedule",
       "usage: sprout schedule add NAME --expr EXPR [--payload JSON | --payload-file FILE]\n"
       "                [--tz ZONE] [--id ID] [--allow-overlap] [--max-catch-up N]\n"
       "       sprout schedule ls [NAME]\n"
       "       sprout schedule rm ID\n"
       "EXPR: cron(MIN HOUR DOM MONTH DOW YEAR) as EventBridge (with ? L W #), a five-field\n"
       "Unix cron, or rate(N minute|minutes|hour|hours|day|days|second|seconds).\n"
       "  --payload       the event (default: EventBridge's Scheduled Event)\n"
       "  --tz ZONE       IANA time zone the expression is read in (default UTC)\n"
       "  --id ID         [A-Za-z0-9_-]{1,64} (default: chosen by sproutd)\n"
       "  --allow-overlap start a run while the previous one still runs (default: skip it)\n"
       "  --max-catch-up N  runs made up after sproutd was down (default 1; 0: none)\n"
       "ls shows each schedule's next and last fire time.\n"},
      {"trigger",
       "usage: sprout trigger add NAME --watch DIR [--bucket B] [--prefix P] [--suffix S] [--id "
       "ID]\n"
       "       sprout trigger add NAME --nats URL --stream S --subject SUBJ [--batch N]\n"
       "                [--batch-window-ms W] [--max-deliveries K] [--dlq-subject SUBJ] [--id ID]\n"
       "       sprout trigger ls [NAME]\n"
       "       sprout trigger rm ID\n"
       "--watch: each file closed after writing or moved into DIR (recursively) invokes NAME\n"
       "  with an S3 ObjectCreated:Put record. DIR is sent canonical (absolute, symbolic\n"
       "  links resolved) and mounted read-only at /mnt/BUCKET in NAME's sandboxes;\n"
       "  BUCKET defaults to DIR's base name, lower-cased.\n"
       "--nats: a durable JetStream consumer on stream S, subject SUBJ; messages arrive as\n"
       "  SQS-shaped batches of up to N (default 10), collected for up to W ms (default 0);\n"
       "  a message delivered K times (default 5) without success is published to the\n"
       "  --dlq-subject (default sprout.dlq.NAME) and acknowledged.\n"
       "--id ID names the trigger ([A-Za-z0-9_-]{1,64}; default: chosen by sproutd).\n"},
  };
  return texts;
}

}  // namespace

const char* overview_help() {
  return "usage: sprout [--socket PATH] [--json] COMMAND ...\n"
         "functions:\n"
         "  deploy NAME --runtime python3|native|exec --code PATH [--handler MOD.FN] [--memory-mb "
         "N]\n"
         "         [--timeout-ms N] [--env K=V]... [--max-concurrency N] [--pre-import MODULE]...\n"
         "         [--prefork-min N] [--prefork-max N] [--no-prefork] [--tenant TENANT]\n"
         "         [--url [--url-cors-origin ORIGIN]... [--url-cors-method M]... "
         "[--url-cors-header H]...\n"
         "                [--url-cors-expose-header H]... [--url-cors-max-age-s N]\n"
         "                [--url-cors-allow-credentials]]\n"
         "         [--async-retries N] [--async-max-age-s S] [--on-failure FN]\n"
         "         --code takes a file, a directory (packed as tar) or a .zip archive\n"
         "  invoke NAME [--payload JSON | --payload-file FILE] [--timeout-ms N] [--logs]\n"
         "  invoke NAME --async [--payload JSON | --payload-file FILE]   (prints the invocation "
         "id)\n"
         "  result ID [--wait] [--logs]\n"
         "  ls | get NAME | rm NAME | stats [NAME] | health\n"
         "events (docs/events.md):\n"
         "  history NAME [--limit N] [--logs]\n"
         "  dlq ls NAME [--limit N] | dlq redrive NAME [REQUEST_ID]...\n"
         "  schedule add NAME --expr EXPR [--payload JSON | --payload-file FILE] [--tz ZONE] [--id "
         "ID]\n"
         "               [--allow-overlap] [--max-catch-up N]\n"
         "  schedule ls [NAME] | schedule rm ID\n"
         "  trigger add NAME --watch DIR [--bucket B] [--prefix P] [--suffix S] [--id ID]\n"
         "  trigger add NAME --nats URL --stream S --subject SUBJ [--batch N] [--batch-window-ms "
         "W]\n"
         "              [--max-deliveries K] [--dlq-subject SUBJ] [--id ID]\n"
         "  trigger ls [NAME] | trigger rm ID\n"
         "sprout COMMAND --help explains one command. Every command takes --json.\n"
         "sprout --version prints the version.\n"
         "exit status: 0 OK, 1 local error, 2 usage, 3 result not finished, 10+N for API status N\n"
         "(see docs/cli.md)\n";
}

std::string command_help(const std::string& command) {
  const std::string base = command.substr(0, command.find(' '));
  auto it = helps().find(base);
  return it == helps().end() ? "" : it->second + kTail;
}

}  // namespace sprout::cli
