// A .zip code bundle (what Lambda's Code.ZipFile carries), laid out under a
// directory: stored and deflate entries, files and directories only, read
// from the central directory and checked against each local header.
//
// Refused, with an error naming the entry: absolute paths, ".." components,
// backslashes (a Windows separator that Linux would take as part of a name),
// components over 255 bytes, duplicate names, symlinks, devices, FIFOs and
// sockets (Unix mode in the external attributes), encrypted entries, other
// compression methods, zip64 and multi-disk archives, overlapping entries,
// more than kMaxZipEntries entries, more than kMaxZipUnpackedBytes declared
// in total, data whose size or CRC-32 disagrees with the central directory.
// Inflating stops at the declared size, so a zip bomb costs at most what it
// declares, and that is bounded before anything is written.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/errors.h"

namespace sprout::agent {

inline constexpr size_t kMaxZipEntries = 10000;
inline constexpr uint64_t kMaxZipUnpackedBytes = 250ull << 20;  // Lambda's unzipped limit

// The total unpacked size the archive's central directory declares, once
// every entry passed the checks above that need no inflating (names, types,
// limits). For sizing the file system the bundle is laid out on.
Result<uint64_t> zip_unpacked_bytes(std::string_view zip);

// Lays the archive out under `root` (which exists). Executable bits come
// from the entries' Unix modes; everything else is 0644/0755.
Result<void> extract_zip(std::string_view zip, const std::string& root);

}  // namespace sprout::agent
