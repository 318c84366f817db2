// What makes a file trigger's definition acceptable, checked once when it is
// added: the watched directory (it is mounted into sandboxes and walked by
// sproutd as root, so it must be a real, canonical directory outside the
// kernel's pseudo file systems), the bucket name (S3's rules, since it also
// names the mount point /mnt/<bucket>), the key filters, the trigger id.
// Thread-safe (no state).
#pragma once

#include <string>
#include <string_view>

#include "api/proto/sprout_api.pb.h"
#include "base/errors.h"

namespace sprout::events {

// The longest key S3 accepts (bytes of UTF-8), and so the longest prefix or
// suffix filter that can match.
inline constexpr size_t kMaxS3KeyBytes = 1024;

// The definition completed (bucket defaulted to the directory's base name,
// lower-cased) or why it is refused; the message is meant for the user.
Result<api::FileTrigger> validate_file_trigger(const api::FileTrigger& spec);

// S3's general-purpose bucket naming rules; `why` says which one failed.
bool is_valid_bucket_name(std::string_view name, std::string* why);


// Whether `key` can be an S3 object key: valid UTF-8, 1..1024 bytes.
bool is_valid_s3_key(std::string_view key);

}  // namespace sprout::events
