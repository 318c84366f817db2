// The processes sprout-event-bench runs for itself: a private sproutd (its
// own socket and state directory) and a private nats-server with JetStream.
// Both are ended (SIGTERM, then reaped) and their directories removed when
// their object goes away, and both get SIGTERM if the benchmark dies first.
#pragma once

#include <sys/types.h>

#include <string>

#include "base/errors.h"

namespace sprout::bench {

// A temporary directory under /tmp, removed with everything in it.
class TempDir {
 public:
  static Result<TempDir> create(const std::string& prefix);
  TempDir(TempDir&& other) noexcept : path_(std::move(other.path_)) { other.path_.clear(); }
  TempDir& operator=(TempDir&&) = delete;
  TempDir(const TempDir&) = delete;
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

// A started child process, stopped (SIGTERM, reaped) on destruction.
class ChildProcess {
 public:
  ChildProcess() = default;
  explicit ChildProcess(pid_t pid) : pid_(pid) {}
  ChildProcess(ChildProcess&& other) noexcept : pid_(other.pid_) { other.pid_ = -1; }
  ChildProcess& operator=(ChildProcess&& other) noexcept {
    if (this != &other) {
      stop();
      pid_ = other.pid_;
      other.pid_ = -1;
    }
    return *this;
  }
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess() { stop(); }
  void stop();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// sproutd, stopped on destruction; then the cgroups it left behind
// (/sys/fs/cgroup/*/sproutd-PID, seen after a SIGTERM stop) are removed.
struct Sproutd {
  Sproutd() = default;
  Sproutd(Sproutd&&) = default;
  Sproutd& operator=(Sproutd&&) = delete;
  Sproutd(const Sproutd&) = delete;
  ~Sproutd();
  ChildProcess process;
  std::string socket;
};

// Starts `binary` with its socket and state directory under `dir`; returns
// once it printed "ready". Its log goes to <dir>/sproutd.log.
Result<Sproutd> start_sproutd(const std::string& binary, const std::string& dir);

struct NatsServer {
  ChildProcess process;
  std::string url;  // nats://127.0.0.1:PORT
};

// Starts `nats-server -js` on 127.0.0.1 and a port the kernel picks, its
// store and log under `dir`; returns once it listens.
Result<NatsServer> start_nats_server(const std::string& dir);

}  // namespace sprout::bench
