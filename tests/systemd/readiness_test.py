#!/usr/bin/python3
"""sd_notify readiness of the real sproutd, as systemd would see it.

    readiness_test.py SPROUTD

Plays the service manager: binds an AF_UNIX datagram socket under an
abstract name, starts SPROUTD with NOTIFY_SOCKET and WATCHDOG_USEC set
(private socket and state dir under /tmp/sprout-test-*), and checks:
  - every datagram parses as KEY=VALUE lines, and none names MAINPID
    (sproutd is the main process itself: NotifyAccess=main);
  - READY=1 comes only once the API socket accepts a connection and the
    "sproutd: ready on" line is out, and comes once;
  - WATCHDOG=1 pings arrive while it serves;
  - after SIGTERM: STOPPING=1, then exit status 0, the API socket gone, and
    sproutd's own cgroups (sproutd-<pid>/ in each hierarchy) removed.
Waits for conditions with generous deadlines (a loaded machine is slow);
kills and reaps sproutd and removes its directory whatever happens.
"""

import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

START_DEADLINE_S = 120
STOP_DEADLINE_S = 90  # drain_timeout_ms is 30 s by default; idle here
WATCHDOG_USEC = 400_000  # pings every 200 ms


class Failure(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Failure(message)


def parse_notification(datagram):
    """KEY=VALUE lines -> list of (key, value); raises Failure when malformed."""
    text = datagram.decode("utf-8")
    pairs = []
    for line in text.split("\n"):
        key, sep, value = line.partition("=")
        check(sep == "=" and key and key.upper() == key and " " not in key,
              f"malformed notification line {line!r} in {text!r}")
        check(key != "MAINPID", f"MAINPID sent by the main process itself: {text!r}")
        pairs.append((key, value))
    return pairs


def api_socket_accepts(path):
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(path)
        return True
    except OSError:
        return False
    finally:
        probe.close()


def own_cgroup_dirs(pid):
    """Where sproutd-<pid>/ lives in every hierarchy sproutd is in."""
    dirs = []
    with open(f"/proc/{pid}/cgroup") as lines:
        for line in lines:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            if controllers == "":
                mounts = ["/sys/fs/cgroup/unified", "/sys/fs/cgroup"]
            else:
                names = [c.removeprefix("name=") for c in controllers.split(",")]
                mounts = [f"/sys/fs/cgroup/{n}" for n in names] + \
                         [f"/sys/fs/cgroup/{controllers}"]
            for mount in mounts:
                candidate = os.path.join(mount + path, f"sproutd-{pid}")
                if os.path.isdir(candidate):
                    dirs.append(candidate)
                    break
    return dirs


class Run:
    def __init__(self, sproutd):
        self.sproutd = sproutd
        self.dir = tempfile.mkdtemp(prefix="sprout-test-systemd-")
        self.api_socket = os.path.join(self.dir, "sprout.sock")
        self.notify_name = f"sprout-test-notify-{os.getpid()}-{time.monotonic_ns()}"
        self.manager = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.manager.bind("\0" + self.notify_name)  # abstract: nothing to remove
        self.log = open(os.path.join(self.dir, "sproutd.log"), "wb")
        self.process = None
        self.stdout_text = b""
        self.messages = []  # (monotonic time, [(key, value)])

    def start(self):
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = "@" + self.notify_name
        env["WATCHDOG_USEC"] = str(WATCHDOG_USEC)
        env.pop("WATCHDOG_PID", None)
        self.process = subprocess.Popen(
            [self.sproutd, "--socket", self.api_socket,
             "--state-dir", os.path.join(self.dir, "state")],
            stdout=subprocess.PIPE, stderr=self.log, env=env)

    def read_stdout(self):
        while select.select([self.process.stdout], [], [], 0)[0]:
            chunk = os.read(self.process.stdout.fileno(), 4096)
            if not chunk:
                break
            self.stdout_text += chunk

    def next_message(self, deadline):
        """The next datagram's pairs, or None at the deadline or when sproutd exits."""
        while time.monotonic() < deadline:
            ready = select.select([self.manager], [], [], 0.5)[0]
            if ready:
                pairs = parse_notification(self.manager.recv(65536))
                self.messages.append((time.monotonic(), pairs))
                return pairs
            if self.process.poll() is not None:
                return None
        return None

    def wait_for(self, key, value, deadline):
        while True:
            pairs = self.next_message(deadline)
            if pairs is None:
                return None
            if (key, value) in pairs:
                return pairs

    def cleanup(self):
        if self.process and self.process.poll() is None:
            # After a failure: SIGTERM first, so that sproutd still removes
            # its cgroups; SIGKILL only if it does not stop.
            self.process.terminate()
            try:
                self.process.wait(timeout=STOP_DEADLINE_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process:
            self.process.stdout.close()
        self.manager.close()
        self.log.close()

    def log_text(self):
        with open(os.path.join(self.dir, "sproutd.log"), "rb") as log:
            return log.read().decode("utf-8", "replace")


def run_test(run):
    run.start()
    pid = run.process.pid

    # READY=1: the socket must accept at that moment, the ready line be out.
    deadline = time.monotonic() + START_DEADLINE_S
    while True:
        pairs = run.next_message(deadline)
        check(pairs is not None, "no READY=1 before the deadline or exit "
              f"(exit status {run.process.poll()})")
        if ("READY", "1") in pairs:
            break
    check(api_socket_accepts(run.api_socket),
          "READY=1 sent but the API socket does not accept")
    ready_line = f"sproutd: ready on {run.api_socket}\n".encode()
    # Printed and flushed before READY=1 was sent: already in the pipe.
    run.read_stdout()
    check(ready_line in run.stdout_text,
          f"READY=1 before the ready line; stdout so far: {run.stdout_text!r}")
    status = dict(pairs).get("STATUS", "")
    check(run.api_socket in status, f"READY=1 without a STATUS naming the socket: {pairs}")
    cgroups = own_cgroup_dirs(pid)
    if os.geteuid() == 0:
        check(cgroups, "sproutd runs as root but no sproutd-<pid> cgroup was found")

    # The watchdog: two pings after READY=1, each within the interval.
    for _ in range(2):
        got = run.wait_for("WATCHDOG", "1", time.monotonic() + 30)
        check(got is not None, "no WATCHDOG=1 ping within 30 s")

    # SIGTERM: STOPPING=1, then a clean exit.
    os.kill(pid, signal.SIGTERM)
    got = run.wait_for("STOPPING", "1", time.monotonic() + STOP_DEADLINE_S)
    check(got is not None, "no STOPPING=1 after SIGTERM")
    check(dict(got).get("STATUS", "").startswith("draining"),
          f"STOPPING=1 without a draining STATUS: {got}")
    try:
        status = run.process.wait(timeout=STOP_DEADLINE_S)
    except subprocess.TimeoutExpired:
        raise Failure(f"sproutd did not exit within {STOP_DEADLINE_S} s of SIGTERM")
    check(status == 0, f"sproutd exited with {status} after SIGTERM")
    check(not os.path.exists(run.api_socket), "API socket left behind after the drain")
    leftover = [d for d in cgroups if os.path.exists(d)]
    check(not leftover, f"cgroups left behind: {leftover}")

    ready_count = sum(1 for _, p in run.messages if ("READY", "1") in p)
    check(ready_count == 1, f"READY=1 sent {ready_count} times")
    keys = sorted({k for _, p in run.messages for k, _ in p})
    print(f"readiness: {len(run.messages)} notifications, keys {keys}; "
          f"cgroups checked: {len(cgroups)}")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    run = Run(sys.argv[1])
    try:
        run_test(run)
        print("PASS")
        return 0
    except Failure as failure:
        print(f"FAIL: {failure}", file=sys.stderr)
        print("--- sproutd's stderr ---\n" + run.log_text(), file=sys.stderr)
        return 1
    finally:
        run.cleanup()
        shutil.rmtree(run.dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
