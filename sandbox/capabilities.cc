// Child side: async-signal-safe (libcap calls that only make system calls,
// a capability state on the stack).
#include "sandbox/capabilities.h"

#include <linux/securebits.h>
#include <sys/capability.h>
#include <sys/prctl.h>

namespace sprout {

int drop_all_capabilities(int last_cap) {
  // Bounding set first: it needs CAP_SETPCAP, which the final capset removes.
  for (int cap = 0; cap <= last_cap; ++cap) {
    if (cap_drop_bound(static_cast<cap_value_t>(cap)) != 0) return -1;
  }
  // One call, where libcap's cap_reset_ambient() asks about every capability
  // first (41 more system calls on every sandbox's setup path).
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0) return -1;
  // NOROOT: uid 0 gains no capabilities at exec. NO_SETUID_FIXUP keeps the
  // kernel from juggling sets on uid changes. Locked, so user code cannot undo.
  const unsigned bits = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
                        SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE |
                        SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED | SECBIT_KEEP_CAPS_LOCKED;
  if (prctl(PR_SET_SECUREBITS, bits, 0, 0, 0) != 0) return -1;
  // An all-clear capability state, as libcap's capset wrapper expects it.
  // cap_user_data_t arrays are on the stack: no allocation after clone.
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  return capset(&header, data);
}

}  // namespace sprout
