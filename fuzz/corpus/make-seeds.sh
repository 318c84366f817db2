#!/usr/bin/env bash
# Regenerates the seed corpora of fuzz/corpus/<target>/ (checked in; run
# this only to change them). Requests are written in text format and
# encoded by protoc; tar bundles are made by Python's tarfile, tricky ones
# by hand.
#
#   fuzz/corpus/make-seeds.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
corpus=$root/fuzz/corpus
cd "$root"

encode() {  # encode MESSAGE TEXT > binary
  printf '%s' "$2" | protoc --encode="$1" -I "$root" api/proto/sprout_api.proto
}

# --- requests (text format), shared by fuzz_request_validation and fuzz_frame
declare -A requests=(
  [deploy-python]='id: 1 deploy { spec { name: "hello" runtime: PYTHON3 handler: "handler.lambda_handler" code: "def lambda_handler(event, context):\n    return {\"ok\": True}\n" code_format: SINGLE_FILE code_file_name: "handler.py" memory_mb: 128 timeout_ms: 3000 env { key: "GREETING" value: "hi" } pre_imports: "json" } }'
  [deploy-exec-tar]='id: 2 deploy { spec { name: "tool_1" runtime: EXEC handler: "bin/run.sh" code: "TARBYTES" code_format: TAR tenant: "acme" max_concurrency: 4 prefork_min: 1 prefork_max: 8 } }'
  [deploy-native]='id: 3 deploy { spec { name: "native-hello" runtime: NATIVE handler: "libhello.so" code: "\177ELF" code_format: SINGLE_FILE code_file_name: "libhello.so" no_prefork: true } }'
  [deploy-warm]='id: 13 deploy { spec { name: "warm" runtime: PYTHON3 handler: "app.main.handle" code: "TARBYTES" code_format: TAR prefork_min: 2 timeout_ms: 900000 memory_mb: 10240 } }'
  [deploy-bad-name]='id: 4 deploy { spec { name: "../etc" runtime: EXEC handler: "/bin/sh" code: "x" code_format: SINGLE_FILE code_file_name: "x" } }'
  [invoke]='id: 5 invoke { function: "hello" payload: "{\"name\": \"you\"}" timeout_ms: 1000 }'
  [invoke-async]='id: 6 invoke_async { function: "hello" payload: "{}" }'
  [get-result]='id: 7 get_result { invocation_id: "0123456789abcdef" wait: true }'
  [list]='id: 8 list {}'
  [get]='id: 9 get { name: "hello" }'
  [delete]='id: 10 delete { name: "hello" }'
  [stats]='id: 11 stats { name: "" }'
  [health]='id: 12 health {}'
)

targets=(fuzz_request_validation fuzz_frame fuzz_code_bundle fuzz_daemon_config)
for target in "${targets[@]}"; do
  mkdir -p "$corpus/$target"
  # The seeds are remade; inputs the fuzzers found (regression-*) are kept.
  find "$corpus/$target" -maxdepth 1 -type f ! -name 'regression-*' -delete
done
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for name in "${!requests[@]}"; do
  encode sprout.api.Request "${requests[$name]}" > "$corpus/fuzz_request_validation/$name"
done
# A bare FunctionSpec (the fuzzer tries bytes that are no Request as one).
encode sprout.api.FunctionSpec 'name: "bare" runtime: EXEC handler: "run.sh" code: "#!/bin/sh\ncat\n" code_format: SINGLE_FILE code_file_name: "run.sh"' \
  > "$corpus/fuzz_request_validation/bare-spec"

# --- frames: [limit selector][split seed][stream]; selector 6 is the API's
# frame limit, 4 is 4096 bytes, 0 is 0 (fuzz/fuzz_frame.cc, kLimits).
python3 - "$corpus" <<'PY'
import os, struct, sys
corpus = sys.argv[1]
req = os.path.join(corpus, "fuzz_request_validation")
def body(name): return open(os.path.join(req, name), "rb").read()
def frame(b): return struct.pack(">I", len(b)) + b
def seed(name, limit, split, stream):
    open(os.path.join(corpus, "fuzz_frame", name), "wb").write(bytes([limit, split]) + stream)
seed("deploy", 6, 7, frame(body("deploy-python")))
seed("pipelined", 6, 3, frame(body("invoke")) + frame(body("list")) + frame(body("health")))
seed("empty-frames", 0, 1, frame(b"") * 3)
seed("truncated", 6, 9, frame(body("deploy-exec-tar"))[:-5])
seed("header-only", 4, 0, frame(body("get"))[:3])
seed("over-limit", 4, 5, struct.pack(">I", 0x7fffffff) + b"x" * 16)
seed("malformed-then-valid", 6, 2, frame(b"\xff\xff\xff") + frame(body("delete")))
PY

# --- code bundles: [format byte: even TAR, odd SINGLE_FILE][...]
python3 - "$corpus/fuzz_code_bundle" <<'PY'
import io, sys, tarfile, os
out = sys.argv[1]
def tar(entries, fmt=tarfile.GNU_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                t.addfile(info)
            elif kind == "file":
                info.size, info.mode = len(data), 0o644
                t.addfile(info, io.BytesIO(data))
            elif kind == "exe":
                info.size, info.mode = len(data), 0o755
                t.addfile(info, io.BytesIO(data))
            elif kind == "symlink":
                info.type, info.linkname = tarfile.SYMTYPE, data
                t.addfile(info)
            elif kind == "hardlink":
                info.type, info.linkname = tarfile.LNKTYPE, data
                t.addfile(info)
            elif kind == "chardev":
                info.type, info.devmajor, info.devminor = tarfile.CHRTYPE, 1, 3
                t.addfile(info)
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                t.addfile(info)
    return buf.getvalue()
def seed(name, data, fmt_byte=0):
    open(os.path.join(out, name), "wb").write(bytes([fmt_byte]) + data)
seed("package", tar([("./", "dir", None), ("./pkg/", "dir", None),
                     ("./pkg/__init__.py", "file", b""), ("./handler.py", "file", b"def h(e, c):\n    return 1\n"),
                     ("./bin/run.sh", "exe", b"#!/bin/sh\ncat\n")]))
seed("gnu-long-name", tar([("deep/" + "n" * 150 + ".py", "file", b"x = 1\n")]))
seed("pax-path", tar([("pax/" + "p" * 120 + "/mod.py", "file", b"y = 2\n")], tarfile.PAX_FORMAT))
seed("ustar-prefix", tar([("u" * 90 + "/" + "v" * 60 + "/f.txt", "file", b"z\n")], tarfile.USTAR_FORMAT))
seed("escape-dotdot", tar([("../escaped.txt", "file", b"no\n")]))
seed("escape-absolute", tar([("/tmp/absolute.txt", "file", b"no\n")]))
seed("symlink", tar([("link", "symlink", "/etc/passwd"), ("link/x", "file", b"no\n")]))
seed("hardlink", tar([("a.txt", "file", b"a\n"), ("b.txt", "hardlink", "a.txt")]))
seed("device", tar([("null", "chardev", None)]))
seed("fifo", tar([("pipe", "fifo", None)]))
seed("file-then-dir", tar([("same", "file", b"f\n"), ("same/inner.txt", "file", b"g\n")]))
seed("no-end-marker", tar([("a.txt", "file", b"a\n")])[:1024])
seed("single-file", b"handler.py\ndef lambda_handler(event, context):\n    return event\n", 1)
seed("single-file-escape", b"../handler.py\nno\n", 1)
PY

# --- zip bundles: format byte 2 (fuzz/fuzz_code_bundle.cc); made by
# Python's zipfile, hostile ones patched by hand.
python3 - "$corpus/fuzz_code_bundle" <<'PY'
import io, os, stat, struct, sys, zipfile
out = sys.argv[1]
def zipped(entries, method=zipfile.ZIP_DEFLATED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, mode, data in entries:
            info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
            info.create_system, info.external_attr = 3, mode << 16
            info.compress_type = method
            if stat.S_ISDIR(mode):
                info.external_attr |= 0x10
            z.writestr(info, data)
    return buf.getvalue()
def seed(name, data):
    open(os.path.join(out, "zip-" + name), "wb").write(bytes([2]) + data)
seed("package", zipped([("pkg/", 0o40755, b""), ("pkg/__init__.py", 0o100644, b""),
                        ("handler.py", 0o100644, b"def h(e, c):\n    return 1\n" * 20),
                        ("bin/run.sh", 0o100755, b"#!/bin/sh\ncat\n")]))
seed("stored", zipped([("a.txt", 0o100644, b"stored\n")], zipfile.ZIP_STORED))
seed("escape-dotdot", zipped([("../escaped.txt", 0o100644, b"no\n")]))
seed("escape-absolute", zipped([("/tmp/absolute.txt", 0o100644, b"no\n")]))
seed("backslash", zipped([("..\\escaped.txt", 0o100644, b"no\n")]))
seed("symlink", zipped([("link", 0o120777, b"/etc/passwd"), ("link/x", 0o100644, b"no\n")]))
seed("device", zipped([("null", 0o20666, b"")]))
seed("fifo", zipped([("pipe", 0o10644, b"")]))
seed("duplicate", zipped([("same.py", 0o100644, b"1\n"), ("./same.py", 0o100644, b"2\n")]))
seed("file-then-dir", zipped([("same", 0o100644, b"f\n"), ("same/inner.txt", 0o100644, b"g\n")]))
# The central directory declares 16 bytes of an entry that inflates to 64 KiB.
bomb = bytearray(zipped([("bomb.bin", 0o100644, b"\0" * 65536)]))
central = bomb.rfind(b"PK\x01\x02")
struct.pack_into("<I", bomb, central + 24, 16)
seed("declared-too-small", bytes(bomb))
bad_crc = bytearray(zipped([("crc.txt", 0o100644, b"checked\n")]))
struct.pack_into("<I", bad_crc, bad_crc.rfind(b"PK\x01\x02") + 16, 7)
seed("crc-mismatch", bytes(bad_crc))
seed("truncated", zipped([("a.txt", 0o100644, b"a\n" * 100)])[:-30])
PY

# --- daemon configs: [config text] %% [flags, one a line] %% [passwd] %% [group]
cat > "$corpus/fuzz_daemon_config/documented" <<'CFG'
# The example of supervisor/proto/daemon_config.proto.
socket_path: "/run/sprout/sprout.sock"
state_dir: "/var/lib/sprout"
allowed_uids: 0
python_pre_imports: "json"
host_id_first: 3000000000
host_id_count: 65536
snapshot_idle_ttl_s: 600
CFG
cat > "$corpus/fuzz_daemon_config/every-field" <<'CFG'
socket_path: "/tmp/s.sock" state_dir: "/tmp/state" allowed_uids: [1000, 1001] allowed_gids: 100
socket_gid: 100 max_frame_bytes: 1048576 max_live_sandboxes: 8 max_queue: 16 queue_timeout_ms: 500
io_threads: 1 python_pre_imports: ["json", "os"] drain_timeout_ms: 1000 agent_path: "/usr/lib/sprout/sprout-agent"
async_results_kept: 10 host_id_first: 200000 host_id_count: 100 snapshot_idle_ttl_s: 0
fork_timeout_ms: 100 prefork_threads: 1
CFG
printf 'host_id_first: 1000\nhost_id_count: 10\n%%%%\n--max-queue\n5\n--allow-uid\n1000\n%%%%\nalice:x:1005:1005::/home/alice:/bin/sh\n%%%%\nstaff:x:50:\n' \
  > "$corpus/fuzz_daemon_config/range-overlaps-account"
printf 'sandbox_uid: 1000\n' > "$corpus/fuzz_daemon_config/removed-field"
printf 'state_dir: "/x"\n%%%%\n--socket\n/tmp/other.sock\n--snapshot-idle-ttl-s\n0\n' > "$corpus/fuzz_daemon_config/flags-over-file"
echo "make-seeds: $(find "$corpus" -type f ! -name '*.sh' | wc -l) seeds in $corpus"
