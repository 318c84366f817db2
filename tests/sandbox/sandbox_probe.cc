// sandbox_probe: runs inside a sandbox and attempts one thing, printing
// "ok ..." when it worked or "err <ERRNO>" when it did not. The tests decide
// which answer is the right one. Kept in plain libc so that what it attempts
// is exactly the system call named.
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/keyctl.h>
#include <linux/perf_event.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>

namespace {

int report(long rc) {
  if (rc < 0) {
    printf("err %s\n", strerrorname_np(errno));
  } else {
    printf("ok %ld\n", rc);
  }
  return 0;
}

int read_file(const char* path) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) return report(-1);
  char buffer[256];
  long n = read(fd, buffer, sizeof buffer);
  return report(n);
}

int write_file(const char* path) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return report(-1);
  return report(write(fd, "x", 1));
}

int connect_tcp(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return report(connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address));
}

// Listens on the sandbox's own loopback and talks to itself: the network
// namespace works, it is just empty.
int loopback_echo() {
  int server = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (bind(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(server, 1) != 0 ||
      getsockname(server, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    return report(-1);
  }
  int client = socket(AF_INET, SOCK_STREAM, 0);
  if (connect(client, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0)
    return report(-1);
  int accepted = accept(server, nullptr, nullptr);
  char byte = 'x';
  if (write(client, &byte, 1) != 1 || read(accepted, &byte, 1) != 1) return report(-1);
  return report(byte == 'x' ? 1 : -1);
}

int count_processes() {
  DIR* dir = opendir("/proc");
  if (!dir) return report(-1);
  long count = 0;
  while (dirent* entry = readdir(dir)) count += entry->d_name[0] >= '1' && entry->d_name[0] <= '9';
  closedir(dir);
  return report(count);
}

int list_fds() {
  DIR* dir = opendir("/proc/self/fd");
  if (!dir) return report(-1);
  std::string fds;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] == '.') continue;
    if (atoi(entry->d_name) == dirfd(dir)) continue;
    fds += std::string(" ") + entry->d_name;
  }
  closedir(dir);
  printf("ok%s\n", fds.c_str());
  return 0;
}

int attempt_syscall(const std::string& name) {
  if (name == "mount") return report(mount("none", "/tmp", "tmpfs", 0, nullptr));
  if (name == "ptrace") return report(ptrace(PTRACE_TRACEME, 0, nullptr, nullptr));
  if (name == "unshare") return report(unshare(CLONE_NEWUSER));
  if (name == "clone-newns") {
    // fork()-style clone with a namespace flag, bypassing unshare().
    long rc = syscall(SYS_clone, CLONE_NEWNS | SIGCHLD, 0, 0, 0, 0);
    if (rc == 0) _exit(0);
    if (rc > 0) waitpid(static_cast<pid_t>(rc), nullptr, 0);
    return report(rc);
  }
  if (name == "setns") {
    int fd = open("/proc/self/ns/net", O_RDONLY);
    return report(setns(fd, CLONE_NEWNET));
  }
  if (name == "keyctl")
    return report(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 0));
  if (name == "bpf") {
    bpf_attr attr{};
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    return report(syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr));
  }
  if (name == "perf_event_open") {
    perf_event_attr attr{};
    attr.size = sizeof attr;
    attr.type = PERF_TYPE_SOFTWARE;
    attr.config = PERF_COUNT_SW_CPU_CLOCK;
    return report(syscall(SYS_perf_event_open, &attr, 0, -1, -1, 0));
  }
  // Host-facing address families, and kernel facilities no function needs.
  if (name == "socket-vsock") return report(socket(AF_VSOCK, SOCK_STREAM, 0));
  if (name == "socketpair-vsock") {
    int pair[2];
    return report(socketpair(AF_VSOCK, SOCK_STREAM, 0, pair));
  }
  if (name == "socket-alg") return report(socket(AF_ALG, SOCK_SEQPACKET, 0));
  if (name == "socket-inet") return report(socket(AF_INET, SOCK_DGRAM, 0));
  if (name == "socket-unix") return report(socket(AF_UNIX, SOCK_STREAM, 0));
  if (name == "modify_ldt") {
    char ldt[64];
    return report(syscall(SYS_modify_ldt, 0, ldt, sizeof ldt));  // 0: read
  }
  if (name == "memfd_secret") return report(syscall(SYS_memfd_secret, 0));
  if (name == "get_mempolicy") {
    int mode = 0;
    return report(syscall(SYS_get_mempolicy, &mode, nullptr, 0, nullptr, 0));
  }
  if (name == "init_module") return report(syscall(SYS_init_module, nullptr, 0, ""));
  if (name == "finit_module") return report(syscall(SYS_finit_module, 0, "", 0));
  if (name == "getpid") return report(syscall(SYS_getpid));
  fprintf(stderr, "probe: unknown syscall %s\n", name.c_str());
  return 2;
}

// Forks until the kernel says no. Children just wait to be killed with the
// sandbox. Prints how many forks succeeded and the errno of the first refusal.
int fork_bomb() {
  long forked = 0;
  for (int i = 0; i < 100000; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      pause();
      _exit(0);
    }
    if (pid < 0) {
      printf("ok %ld refused %s\n", forked, strerrorname_np(errno));
      return 0;
    }
    ++forked;
  }
  printf("ok %ld refused never\n", forked);
  return 0;
}

int memory_hog(long megabytes) {
  for (long i = 0; i < megabytes; ++i) {
    char* chunk = static_cast<char*>(
        mmap(nullptr, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    if (chunk == MAP_FAILED) return report(-1);
    memset(chunk, 1, 1 << 20);
  }
  return report(megabytes);
}

int spin() {
  volatile unsigned long counter = 0;
  for (;;) counter = counter + 1;
}

// Double fork: the grandchild leaves its session and re-execs itself with a
// marker the test looks for on the host afterwards. Prints "ok <child pid>"
// only once the grandchild has exec'd (the close-on-exec pipe it holds
// closed without a word), "err <ERRNO>" when it never got there: a test that
// finds no daemon afterwards then knows there was one to kill.
int daemonize(const char* marker) {
  int started[2];
  if (pipe2(started, O_CLOEXEC) != 0) return report(-1);
  pid_t child = fork();
  if (child < 0) return report(-1);
  if (child == 0) {
    close(started[0]);
    setsid();
    pid_t grandchild = fork();
    if (grandchild == 0) {
      execl("/proc/self/exe", "sandbox_probe", "sleep-forever", marker, nullptr);
    }
    if (grandchild <= 0) {  // the fork or the exec failed: say why
      int err = errno;
      [[maybe_unused]] auto written = write(started[1], &err, sizeof err);
      _exit(1);
    }
    _exit(0);
  }
  close(started[1]);
  waitpid(child, nullptr, 0);
  int err = 0;
  ssize_t n;
  do {
    n = read(started[0], &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  close(started[0]);
  if (n != 0) {
    errno = n == static_cast<ssize_t>(sizeof err) ? err : EIO;
    return report(-1);
  }
  return report(child);
}

int hostname() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  long rc = sethostname("escaped", 7);
  printf("name %s sethostname %s\n", name, rc == 0 ? "ok" : strerrorname_np(errno));
  return 0;
}

int sysv_lookup(long key) { return report(shmget(static_cast<key_t>(key), 0, 0)); }

int sysv_private() { return report(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600)); }

int abstract_connect(const char* name) {
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  size_t length = strlen(name);
  memcpy(address.sun_path + 1, name, length);
  return report(connect(fd, reinterpret_cast<sockaddr*>(&address),
                        offsetof(sockaddr_un, sun_path) + 1 + length));
}

int abstract_self() {
  int server = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  memcpy(address.sun_path + 1, "probe-self", 10);
  socklen_t length = offsetof(sockaddr_un, sun_path) + 11;
  if (bind(server, reinterpret_cast<sockaddr*>(&address), length) != 0 || listen(server, 1) != 0)
    return report(-1);
  int client = socket(AF_UNIX, SOCK_STREAM, 0);
  return report(connect(client, reinterpret_cast<sockaddr*>(&address), length));
}

// Credentials and capability sets as the kernel reports them.
int credentials() {
  FILE* status = fopen("/proc/self/status", "r");
  if (!status) return report(-1);
  char line[256];
  std::string out = "ok";
  while (fgets(line, sizeof line, status)) {
    for (const char* key : {"Uid:", "CapInh:", "CapPrm:", "CapEff:", "CapBnd:", "CapAmb:",
                            "NoNewPrivs:", "Seccomp:"}) {
      if (strncmp(line, key, strlen(key)) == 0) {
        std::string text = line;
        text.erase(text.find_last_not_of('\n') + 1);
        for (auto& c : text)
          if (c == '\t') c = ' ';
        out += " [" + text + "]";
      }
    }
  }
  (void)fclose(status);
  printf("%s\n", out.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  (void)setvbuf(stdout, nullptr, _IONBF, 0);
  if (argc < 2) return 2;
  std::string command = argv[1];
  const char* arg = argc > 2 ? argv[2] : "";
  if (command == "read") return read_file(arg);
  if (command == "write") return write_file(arg);
  if (command == "connect") return connect_tcp(atoi(arg));
  if (command == "loopback-echo") return loopback_echo();
  if (command == "procs") return count_processes();
  if (command == "fds") return list_fds();
  if (command == "syscall") return attempt_syscall(arg);
  if (command == "fork-bomb") return fork_bomb();
  if (command == "memory-hog") return memory_hog(atol(arg));
  if (command == "spin") return spin();
  if (command == "daemonize") return daemonize(arg);
  if (command == "sleep-forever")
    for (;;) pause();
  if (command == "sleep-ms") return usleep(atoi(arg) * 1000), report(0);
  if (command == "hostname") return hostname();
  if (command == "sysv-lookup") return sysv_lookup(atol(arg));
  if (command == "sysv-private") return sysv_private();
  if (command == "abstract-connect") return abstract_connect(arg);
  if (command == "abstract-self") return abstract_self();
  if (command == "credentials") return credentials();
  if (command == "exit") return atoi(arg);
  fprintf(stderr, "probe: unknown command %s\n", command.c_str());
  return 2;
}
