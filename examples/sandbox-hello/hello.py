# Runs inside a sprout sandbox and shows what it sees of the world.
import os
import socket

print("hello from the sandbox")
print("  hostname:", socket.gethostname())
print("  pid:", os.getpid(), " uid:", os.getuid())
print("  processes visible:", sorted(int(p) for p in os.listdir("/proc") if p.isdigit()))
print("  root entries:", sorted(os.listdir("/")))
try:
    open("/usr/sprout-write-test", "w")
    print("  /usr writable: yes (BAD)")
except OSError as error:
    print("  /usr writable: no (" + error.strerror + ")")
