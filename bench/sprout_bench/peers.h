// The tools a user would pick instead of sprout, each running the same
// handler file once per invocation: a fresh interpreter (or, for native
// functions, a fresh process loading the same shared object), bubblewrap,
// runc and crun with an OCI bundle whose root is a read-only view of /usr,
// and CRIU. A peer that does not work on this machine is reported with the
// reason, never dropped silently.
#pragma once

#include <atomic>
#include <string>
#include <vector>

namespace sprout::bench {

struct PeerWorkload {
  std::string name;
  std::string code_dir;  // the handler's directory, /var/task in isolating peers
  bool native = false;   // runs `native_runner <code_dir>/<native_library>`
  std::string native_library;
  std::string payload;
};

struct PeerPaths {
  std::string python_runner;  // bench/python_fresh_runner.py
  std::string native_runner;  // built bench/native_runner
  std::string work_dir;       // bundles and runc state go here
};

class Peer {
 public:
  Peer(std::string name, PeerPaths paths) : name_(std::move(name)), paths_(std::move(paths)) {}
  const std::string& name() const { return name_; }
  // Checks the peer once; false with `reason` when it cannot run here.
  bool available(const PeerWorkload& workload, std::string* reason);
  // One invocation; false with `error`. Output is discarded.
  bool run_once(const PeerWorkload& workload, std::string* error);

 private:
  std::vector<std::string> command(const PeerWorkload& workload);
  std::string prepare_bundle(const PeerWorkload& workload);  // runc/crun

  std::string name_;
  PeerPaths paths_;
  // Container ids: callers run a peer from several threads at once, and two
  // containers of one id collide ("container with given ID already exists").
  std::atomic<unsigned> counter_{0};
};

std::vector<std::string> all_peer_names();

// Runs argv with `input` on stdin; returns the exit status, stderr's first
// line in `error_line`.
int run_command(const std::vector<std::string>& argv, const std::string& input,
                std::string* error_line);

}  // namespace sprout::bench
