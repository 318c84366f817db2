// Dropping every capability for good. Child side, async-signal-safe. The
// highest capability number is read before the clone (last_capability() in
// sandbox/prepared_sandbox.h).
#pragma once

namespace sprout {

// Drops the bounding set up to `last_cap`, clears the ambient set, locks the
// securebits so that an exec (even of a setuid-root file, even as uid 0 in the
// namespace) cannot grant anything back, then empties the effective,
// permitted and inheritable sets. Returns 0, or -1 with errno set.
int drop_all_capabilities(int last_cap);

}  // namespace sprout
