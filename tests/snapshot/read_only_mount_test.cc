// Read-only host directories at /mnt/<name> (snapshot/read_only_mount.h):
// the form checks, the mount plan's step, and, with a real zygote, snapshot
// and sandboxes, what a function can and cannot do with such a mount, from
// its init (in the snapshot, and in a child that holds every capability of a
// user namespace of its own) and from its handler (in a sandbox).
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <cstring>
#include <fstream>
#include <map>
#include <regex>
#include <string>
#include <vector>

#include "sandbox/mount_plan.h"
#include "sandbox/spec_defaults.h"
#include "snapshot/read_only_mount.h"
#include "tests/snapshot/snapshot_fixture.h"

namespace sprout::testing {
namespace {

// ---- Form checks and the plan (no root) ----------------------------------------

TEST(ReadOnlyMountName, AcceptsBucketNamesOnly) {
  const std::vector<std::string> good = {"abc", "my.bucket-1", "0uploads9", std::string(63, 'a')};
  for (const auto& name : good) EXPECT_TRUE(is_read_only_mount_name(name)) << name;
  const std::vector<std::string> bad = {"",    "ab",  "...", "..a", "a..", "-ab",
                                        "ab-", "Abc", "a/b", "a b", "a_b", std::string(64, 'a')};
  for (const auto& name : bad) EXPECT_FALSE(is_read_only_mount_name(name)) << name;
}

TEST(ReadOnlyMountForm, RefusesNonCanonicalPathsAndKernelTrees) {
  EXPECT_TRUE(validate_read_only_mount({"/srv/uploads", "uploads"}).has_value());
  for (const char* bad : {"", "/", "srv/uploads", "/srv/uploads/", "/srv//uploads", "/srv/./up",
                          "/srv/../etc", "/proc", "/proc/1/root", "/sys/fs", "/dev", "/dev/shm"}) {
    auto checked = validate_read_only_mount({bad, "uploads"});
    EXPECT_FALSE(checked.has_value()) << "accepted " << bad;
  }
  EXPECT_TRUE(validate_read_only_mount({"/devices", "uploads"}).has_value())
      << "only /dev itself and below it are refused, not every path that begins so";
  EXPECT_FALSE(validate_read_only_mount({"/srv/uploads", "../etc"}).has_value());
}

TEST(ReadOnlyMountForm, RefusesDuplicateNamesAndTooMany) {
  std::vector<ReadOnlyMount> mounts{{"/srv/a", "bucket-a"}, {"/srv/b", "bucket-a"}};
  auto twice = validate_read_only_mounts(mounts);
  ASSERT_FALSE(twice.has_value());
  EXPECT_NE(twice.error().message().find("twice"), std::string::npos);
  mounts.clear();
  for (size_t i = 0; i <= kMaxReadOnlyMounts; ++i)
    mounts.push_back({"/srv/d" + std::to_string(i), "bucket-" + std::to_string(i)});
  EXPECT_FALSE(validate_read_only_mounts(mounts).has_value());
  mounts.pop_back();
  EXPECT_TRUE(validate_read_only_mounts(mounts).has_value());
}

TEST(ReadOnlyMountPlan, AttachesAfterTheBindsAndBeforeThePivot) {
  sandbox::SandboxSpec spec;
  spec.set_code_dir("/srv/code");
  auto* attached = spec.add_attached_mounts();
  attached->set_fd(7);
  attached->set_target("/mnt/uploads");
  apply_spec_defaults(spec);
  auto plan = plan_mounts(spec);
  ASSERT_TRUE(plan.has_value()) << plan.error().message();
  auto position = [&](const std::string& description) {
    for (size_t i = 0; i < plan->steps.size(); ++i)
      if (plan->steps[i].description == description) return static_cast<int>(i);
    return -1;
  };
  const int attach = position("attach read-only mount on /mnt/uploads");
  ASSERT_GE(attach, 0);
  EXPECT_EQ(plan->steps[attach].kind, MountStep::Kind::kAttachMount);
  EXPECT_EQ(plan->steps[attach].target, std::string(kMountNewRoot) + "/mnt/uploads");
  EXPECT_GT(attach, position("bind /srv/code on /var/task"));
  EXPECT_LT(attach, position("pivot_root into the new root"));
  EXPECT_EQ(plan->child_steps()[attach].source_fd, 7);
  // A sandbox that inherits its root gets the attached mounts with it.
  spec.set_inherit_root(true);
  auto inherited = plan_mounts(spec);
  ASSERT_TRUE(inherited.has_value());
  for (const auto& step : inherited->steps) EXPECT_NE(step.kind, MountStep::Kind::kAttachMount);
}

TEST(ReadOnlyMountPlan, RefusesMissingDescriptorOrUncleanTarget) {
  for (auto [fd, target] : std::vector<std::pair<int, std::string>>{
           {-1, "/mnt/uploads"}, {7, "mnt/uploads"}, {7, "/mnt/../etc"}, {7, "/"}}) {
    sandbox::SandboxSpec spec;
    auto* attached = spec.add_attached_mounts();
    attached->set_fd(fd);
    attached->set_target(target);
    apply_spec_defaults(spec);
    EXPECT_FALSE(plan_mounts(spec).has_value()) << fd << " " << target;
  }
}

// ---- Real snapshots and sandboxes (root) --------------------------------------

constexpr const char* kBucket = "uploads.test-1";

// The function's probes. Every attempt reports "ok", "read:<text>" or the
// errno's name; the C++ side decides what is expected.
const char kProbes[] = R"PY(
import ctypes, errno, json, mmap, os, struct, subprocess

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long
MNT = "/mnt/" + BUCKET
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_MOVE = 32, 4096, 8192


def sys_call(nr, *args):
    conv = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    ctypes.set_errno(0)
    ret = _libc.syscall(ctypes.c_long(nr), *conv)
    if ret == -1:
        err = ctypes.get_errno()
        return errno.errorcode.get(err, str(err))
    return "ok"


def c(text):
    return ctypes.c_char_p(text.encode())


def attempt(fn):
    try:
        r = fn()
        return "ok" if r is None else r
    except OSError as e:
        return errno.errorcode.get(e.errno, str(e.errno))


def read(path):
    with open(path) as f:
        return "read:" + f.read().strip()


def create(path):
    open(path, "w").close()


def remount_writable(path):  # mount -o remount,rw (bind: this mount only)
    return sys_call(165, None, c(path), None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, None)


def clear_read_only(path):  # mount_setattr(AT_FDCWD, path, 0, {attr_clr = MOUNT_ATTR_RDONLY})
    attr = ctypes.create_string_buffer(32)
    struct.pack_into("QQQQ", attr, 0, 0, 1, 0, 0)
    return sys_call(442, -100, c(path), 0, attr, 32)


def mounts_of_host_dir():
    # "<mount point> <options>" of every mount of the host directory we see.
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[3].endswith(HOST_SUFFIX):
                found.append(fields[4] + " " + fields[5])
    return ";".join(found)


def confinement():
    return {
        "remount_rw": remount_writable(MNT),
        "clear_read_only": clear_read_only(MNT),
        "umount": sys_call(166, c(MNT), 2),
        "move_away": sys_call(165, c(MNT), c("/tmp"), None, MS_MOVE, None),
        "create": attempt(lambda: create(MNT + "/new.txt")),
    }


def in_namespaced_child():
    # clone(2) with exactly the sandbox's namespaces, the one set the
    # snapshot's filter lets through: the child holds every capability of its
    # new user namespace, so only the kernel's locks stand in its way.
    r, w = os.pipe()
    flags = 0x10000000 | 0x20000000 | 0x00020000 | 0x40000000 | 0x08000000 | 0x04000000 | 17
    pid = _libc.syscall(ctypes.c_long(56), ctypes.c_long(flags), ctypes.c_long(0), None, None,
                        ctypes.c_long(0))
    if pid == 0:
        out = {}
        try:
            out = confinement()
            # Control: the capability is there (a tmpfs may be mounted) ...
            out["tmpfs_control"] = sys_call(165, c("none"), c("/tmp"), c("tmpfs"), 0, None)
            # ... and a bind of the mount is a copy with the same locked flags.
            out["bind"] = sys_call(165, c(MNT), c("/tmp"), None, MS_BIND, None)
            out["bind_remount_rw"] = remount_writable("/tmp")
            out["bind_create"] = attempt(lambda: create("/tmp/new.txt"))
        except BaseException as e:
            out["exception"] = repr(e)
        finally:
            os.write(w, json.dumps(out).encode())
            os._exit(0)
    os.close(w)
    if pid < 0:
        os.close(r)
        return {"clone": errno.errorcode.get(ctypes.get_errno(), "?")}
    data = b""
    while True:
        chunk = os.read(r, 65536)
        if not chunk:
            break
        data += chunk
    os.close(r)
    os.waitpid(pid, 0)
    return json.loads(data.decode())


INIT = confinement()
INIT["read"] = attempt(lambda: read(MNT + "/hello.txt"))
INIT["mounts"] = mounts_of_host_dir()
CHILD = in_namespaced_child() if os.path.isdir(MNT) else {}


def handler(event, context):
    out = confinement()
    out["read"] = attempt(lambda: read(MNT + "/hello.txt"))
    out["late"] = attempt(lambda: read(MNT + "/late.txt"))
    out["list_mnt"] = attempt(lambda: ",".join(sorted(os.listdir("/mnt"))))
    out["write_existing"] = attempt(lambda: open(MNT + "/writable.txt", "a").close())
    out["unlink"] = attempt(lambda: os.unlink(MNT + "/writable.txt"))
    out["rename"] = attempt(lambda: os.rename(MNT + "/writable.txt", MNT + "/moved.txt"))
    out["mkdir"] = attempt(lambda: os.mkdir(MNT + "/dir"))
    out["chmod"] = attempt(lambda: os.chmod(MNT + "/writable.txt", 0o600))
    for link in ("shadow", "secret-abs", "secret-rel"):
        out["link_" + link] = attempt(lambda: read(MNT + "/" + link))
    out["dotdot"] = attempt(lambda: read(MNT + "/../secret.txt"))
    out["dotdot_host_path"] = attempt(lambda: read(MNT + "/../.." + SECRET_PATH))
    out["exec"] = attempt(lambda: "ran:%d" % subprocess.run([MNT + "/run.sh"]).returncode)

    def map_executable():
        with open(MNT + "/hello.txt", "rb") as f:
            mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ | mmap.PROT_EXEC).close()

    out["mmap_exec"] = attempt(map_executable)
    out["mounts"] = mounts_of_host_dir()
    out.update({"init_" + k: v for k, v in INIT.items()})
    out.update({"child_" + k: v for k, v in CHILD.items()})
    return out
)PY";

// The handler's answer: a flat JSON object of strings.
std::map<std::string, std::string> parse_answer(const std::string& json) {
  std::map<std::string, std::string> answer;
  static const std::regex pair("\"([^\"]+)\": \"([^\"]*)\"");
  for (auto it = std::sregex_iterator(json.begin(), json.end(), pair);
       it != std::sregex_iterator(); ++it) {
    answer[(*it)[1]] = (*it)[2];
  }
  return answer;
}

void write_host_file(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ASSERT_EQ(chmod(path.c_str(), mode), 0) << path;
}

class ReadOnlyMountTest : public SnapshotTest {
 protected:
  void SetUp() override {
    SnapshotTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    char pattern[] = "/tmp/sprout-test-romount-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    root_ = pattern;
    ASSERT_EQ(chmod(root_.c_str(), 0755), 0);
    bucket_ = root_ + "/bucket";
    // Writable by anyone on the host: only the mount's read-only flag stands
    // between the function and a change.
    ASSERT_EQ(mkdir(bucket_.c_str(), 0755), 0);
    ASSERT_EQ(chmod(bucket_.c_str(), 0777), 0);
    ASSERT_EQ(mkdir((bucket_ + "/sub").c_str(), 0755), 0);
    secret_ = root_ + "/secret.txt";
    // World-readable and next to the bucket: only the mount keeps it out of reach.
    write_host_file(secret_, "host secret", 0644);
    write_host_file(bucket_ + "/hello.txt", "hello from the host", 0644);
    write_host_file(bucket_ + "/writable.txt", "anyone may write", 0666);
    write_host_file(bucket_ + "/run.sh", "#!/bin/sh\necho ran\n", 0755);
    ASSERT_EQ(symlink("/etc/shadow", (bucket_ + "/shadow").c_str()), 0);
    ASSERT_EQ(symlink(secret_.c_str(), (bucket_ + "/secret-abs").c_str()), 0);
    ASSERT_EQ(symlink("../secret.txt", (bucket_ + "/secret-rel").c_str()), 0);
  }

  void TearDown() override {
    SnapshotTest::TearDown();  // the snapshots are gone first, with their mounts
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }

  FunctionDefinition probe_function(std::vector<ReadOnlyMount> mounts) {
    const std::string prelude = std::string("BUCKET = \"") + kBucket + "\"\nHOST_SUFFIX = \"" +
                                root_.substr(root_.rfind('/')) + "/bucket\"\nSECRET_PATH = \"" +
                                secret_ + "\"\n";
    auto definition = python_function(prelude + kProbes, "fn.handler");
    definition.read_only_mounts = std::move(mounts);
    return definition;
  }

  std::map<std::string, std::string> invoke_probes(FunctionSnapshot& snapshot) {
    auto result = invoke(snapshot, "{}");
    EXPECT_EQ(result.status, InvocationStatus::kOk) << result.detail << "\n" << result.logs;
    return parse_answer(result.result);
  }

  std::string root_, bucket_, secret_;
};

TEST_F(ReadOnlyMountTest, HandlerReadsTheHostDirectoryAndCannotChangeOrLeaveIt) {
  auto snapshot = load_ok(probe_function({{bucket_, kBucket}}));
  ASSERT_TRUE(snapshot);
  // Added on the host after the snapshot loaded: a bind, not a copy.
  write_host_file(bucket_ + "/late.txt", "arrived later", 0644);
  auto answer = invoke_probes(*snapshot);

  EXPECT_EQ(answer["read"], "read:hello from the host");
  EXPECT_EQ(answer["late"], "read:arrived later");
  EXPECT_EQ(answer["list_mnt"], kBucket);
  // Exactly one mount of the host directory, at /mnt/<name>, with the flags.
  const std::string flags = "ro,nosuid,nodev,noexec";
  EXPECT_EQ(answer["mounts"].rfind(std::string("/mnt/") + kBucket + " " + flags, 0), 0u)
      << answer["mounts"];
  EXPECT_EQ(answer["mounts"].find(';'), std::string::npos) << answer["mounts"];

  for (const char* change : {"create", "write_existing", "unlink", "rename", "mkdir", "chmod"})
    EXPECT_EQ(answer[change], "EROFS") << change;
  // The sandbox's filter refuses the mount calls before the kernel's locks would.
  for (const char* call : {"remount_rw", "clear_read_only", "umount", "move_away"})
    EXPECT_EQ(answer[call], "EPERM") << call;
  // Links and ".." resolve in the sandbox's own root, where none of these exist.
  for (const char* escape : {"link_shadow", "link_secret-abs", "link_secret-rel", "dotdot",
                             "dotdot_host_path"}) {
    EXPECT_EQ(answer[escape], "ENOENT") << escape;
  }
  EXPECT_EQ(answer["exec"], "EACCES");
  EXPECT_EQ(answer["mmap_exec"], "EPERM");
  // The host directory is untouched.
  EXPECT_FALSE(std::filesystem::exists(bucket_ + "/new.txt"));
  EXPECT_FALSE(std::filesystem::exists(bucket_ + "/moved.txt"));
  EXPECT_EQ(read_file(bucket_ + "/writable.txt"), "anyone may write");
}

TEST_F(ReadOnlyMountTest, InitCodeCannotRemountOrUncoverItEvenWithCapabilities) {
  auto snapshot = load_ok(probe_function({{bucket_, kBucket}}));
  ASSERT_TRUE(snapshot);
  auto answer = invoke_probes(*snapshot);
  // In the snapshot, which dropped every capability before the init.
  EXPECT_EQ(answer["init_read"], "read:hello from the host");
  EXPECT_EQ(answer["init_create"], "EROFS");
  EXPECT_EQ(answer["init_remount_rw"], "EPERM");
  EXPECT_EQ(answer["init_clear_read_only"], "EPERM");
  EXPECT_EQ(answer["init_umount"], "EPERM");
  EXPECT_EQ(answer["init_move_away"], "EPERM");
  EXPECT_EQ(answer["init_mounts"].rfind(std::string("/mnt/") + kBucket + " ro,nosuid,nodev,noexec",
                                        0),
            0u)
      << answer["init_mounts"];
  EXPECT_EQ(answer["init_mounts"].find(';'), std::string::npos) << answer["init_mounts"];
  // In a child of the init with every capability of a user namespace of its
  // own: the kernel locked the mount's flags when it copied the tree.
  ASSERT_EQ(answer.count("child_exception"), 0u) << answer["child_exception"];
  ASSERT_EQ(answer["child_tmpfs_control"], "ok") << "the child should hold CAP_SYS_ADMIN";
  EXPECT_EQ(answer["child_remount_rw"], "EPERM");
  EXPECT_EQ(answer["child_clear_read_only"], "EPERM");  // the filter: new mount API
  EXPECT_EQ(answer["child_umount"], "EPERM");           // the filter: umount2
  EXPECT_EQ(answer["child_move_away"], "EINVAL");       // a locked mount does not move
  EXPECT_EQ(answer["child_create"], "EROFS");
  EXPECT_EQ(answer["child_bind"], "ok");
  EXPECT_EQ(answer["child_bind_remount_rw"], "EPERM");
  EXPECT_EQ(answer["child_bind_create"], "EROFS");
  EXPECT_FALSE(std::filesystem::exists(bucket_ + "/new.txt"));
}

TEST_F(ReadOnlyMountTest, OnlyTheFunctionGivenTheMountSeesIt) {
  auto with = load_ok(probe_function({{bucket_, kBucket}}));
  auto without = load_ok(probe_function({}));
  ASSERT_TRUE(with && without);
  auto answer = invoke_probes(*without);
  EXPECT_EQ(answer["list_mnt"], "ENOENT");
  EXPECT_EQ(answer["read"], "ENOENT");
  EXPECT_EQ(answer["mounts"], "");
  EXPECT_EQ(answer["init_mounts"], "");
  EXPECT_EQ(invoke_probes(*with)["read"], "read:hello from the host");
}

TEST_F(ReadOnlyMountTest, TwoMountsEachAtItsName) {
  const std::string other = root_ + "/other";
  ASSERT_EQ(mkdir(other.c_str(), 0755), 0);
  write_host_file(other + "/hello.txt", "the other bucket", 0644);
  auto definition = probe_function({{bucket_, kBucket}, {other, "other-bucket"}});
  definition.bundle += "\nHANDLER = handler\n"
                       "def handler(event, context):\n"
                       "    out = HANDLER(event, context)\n"
                       "    out['other'] = attempt(lambda: read('/mnt/other-bucket/hello.txt'))\n"
                       "    return out\n";
  auto snapshot = load_ok(definition);
  ASSERT_TRUE(snapshot);
  auto answer = invoke_probes(*snapshot);
  EXPECT_EQ(answer["read"], "read:hello from the host");
  EXPECT_EQ(answer["other"], "read:the other bucket");
  EXPECT_EQ(answer["list_mnt"], std::string("other-bucket,") + kBucket);
}

// sproutd's checks of the form refuse the load, as sprout's error, not the
// function's: a path that is not canonical, a name that is not a bucket's.
TEST_F(ReadOnlyMountTest, LoadRefusesMountsOfTheWrongForm) {
  const std::vector<std::pair<ReadOnlyMount, std::string>> refused = {
      {{"/run/../proc", kBucket}, "canonical"},
      {{bucket_, "Bad_Name"}, "bucket name"},
  };
  for (const auto& [mount, expected] : refused) {
    auto loaded = zygote(agent::PYTHON3).load(probe_function({mount}), pool_.get(), host_id());
    ASSERT_FALSE(loaded.has_value()) << mount.host_dir << " " << mount.name;
    EXPECT_NE(loaded.error().message().find(expected), std::string::npos)
        << loaded.error().message();
  }
}

// What sproutd cannot mount safely now (a link anywhere in the path, a
// missing directory, a file, a kernel file system reached through a path
// the form checks cannot recognize) is left out: the function still loads
// and runs, without that /mnt/<name>, and its other mounts are there. A
// removed upload directory must not make the function uninvocable.
TEST_F(ReadOnlyMountTest, LoadLeavesOutLinksMissingDirectoriesAndKernelFileSystems) {
  const std::string link = root_ + "/link";
  ASSERT_EQ(symlink(bucket_.c_str(), link.c_str()), 0);
  const std::string proc_view = root_ + "/proc-view";
  ASSERT_EQ(mkdir(proc_view.c_str(), 0755), 0);
  ASSERT_EQ(mount("proc", proc_view.c_str(), "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr), 0)
      << strerror(errno);
  struct Unmount {
    std::string path;
    ~Unmount() { umount2(path.c_str(), MNT_DETACH); }
  } unmount{proc_view};
  for (const std::string& unusable :
       {link, link + "/sub", root_ + "/missing", secret_, proc_view}) {
    auto snapshot = load_ok(probe_function({{unusable, kBucket}}));
    ASSERT_TRUE(snapshot) << unusable;
    auto answer = invoke_probes(*snapshot);
    EXPECT_EQ(answer["list_mnt"], "ENOENT") << unusable;
    EXPECT_EQ(answer["read"], "ENOENT") << unusable;
  }
  // Beside a usable one: only the unusable one is missing.
  auto definition = probe_function({{bucket_, kBucket}, {root_ + "/missing", "other-bucket"}});
  auto snapshot = load_ok(definition);
  ASSERT_TRUE(snapshot);
  auto answer = invoke_probes(*snapshot);
  EXPECT_EQ(answer["read"], "read:hello from the host");
  EXPECT_EQ(answer["list_mnt"], kBucket);
}

}  // namespace
}  // namespace sprout::testing
