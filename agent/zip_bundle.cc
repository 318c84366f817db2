#include "agent/zip_bundle.h"

#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <optional>
#include <set>
#include <vector>

#include "agent/bundle_files.h"

namespace sprout::agent {
namespace {

// PKWARE's APPNOTE.TXT, sections 4.3.7 (local header), 4.3.12 (central
// directory header), 4.3.16 (end of central directory record).
constexpr uint32_t kLocalHeaderSignature = 0x04034b50;
constexpr uint32_t kCentralHeaderSignature = 0x02014b50;
constexpr uint32_t kEndRecordSignature = 0x06054b50;
constexpr uint32_t kZip64LocatorSignature = 0x07064b50;
constexpr size_t kLocalHeaderBytes = 30;
constexpr size_t kCentralHeaderBytes = 46;
constexpr size_t kEndRecordBytes = 22;
constexpr size_t kZip64LocatorBytes = 20;
constexpr size_t kMaxCommentBytes = 0xffff;
constexpr uint16_t kFlagEncrypted = 1u << 0;
constexpr uint16_t kFlagStrongEncryption = 1u << 6;
constexpr uint16_t kMethodStored = 0;
constexpr uint16_t kMethodDeflate = 8;
constexpr uint8_t kHostUnix = 3;        // "version made by", high byte
constexpr uint32_t kDosDirectory = 0x10;  // MS-DOS attribute, low byte of external attributes
constexpr uint32_t kZip64Marker = 0xffffffff;
constexpr size_t kInflateChunk = 64 * 1024;

uint16_t le16(std::string_view bytes, size_t at) {
  return static_cast<uint16_t>(static_cast<uint8_t>(bytes[at]) |
                               static_cast<uint8_t>(bytes[at + 1]) << 8);
}

uint32_t le32(std::string_view bytes, size_t at) {
  return static_cast<uint32_t>(le16(bytes, at)) | static_cast<uint32_t>(le16(bytes, at + 2)) << 16;
}

std::unexpected<Error> archive_error(std::string detail) {
  return plain_error("read zip bundle", std::move(detail));
}

std::unexpected<Error> entry_error(std::string_view name, const std::string& detail) {
  return plain_error("read zip bundle", "entry '" + std::string(name) + "': " + detail);
}

struct ZipEntry {
  std::string name;      // as the archive spells it
  std::string relative;  // under the code directory
  bool directory = false;
  bool executable = false;
  uint16_t method = kMethodStored;
  uint32_t crc = 0;
  uint64_t compressed_bytes = 0;
  uint64_t size = 0;
  uint64_t local_offset = 0;
  uint64_t data_offset = 0;  // from the local header
};

struct CentralDirectory {
  std::vector<ZipEntry> entries;
  uint64_t unpacked_bytes = 0;
};

// The end-of-central-directory record: the last one whose comment reaches
// exactly to the end of the archive (a comment may itself hold the
// signature).
std::optional<size_t> find_end_record(std::string_view zip) {
  if (zip.size() < kEndRecordBytes) return std::nullopt;
  const size_t last = zip.size() - kEndRecordBytes;
  const size_t first = last > kMaxCommentBytes ? last - kMaxCommentBytes : 0;
  for (size_t at = last + 1; at-- > first;) {
    if (le32(zip, at) == kEndRecordSignature && at + kEndRecordBytes + le16(zip, at + 20) == zip.size())
      return at;
  }
  return std::nullopt;
}

// The entry's kind and mode from its external attributes: a Unix mode in
// the high half when the archive was made on Unix, else MS-DOS attributes.
Result<void> read_entry_kind(uint16_t made_by, uint32_t external, ZipEntry& entry) {
  if (made_by >> 8 != kHostUnix) {
    if (external & kDosDirectory) entry.directory = true;
    return {};
  }
  const mode_t mode = external >> 16;
  switch (mode & S_IFMT) {
    case 0:  // no type recorded: the name says
    case S_IFREG:
      break;
    case S_IFDIR:
      entry.directory = true;
      break;
    case S_IFLNK:
      return entry_error(entry.name, "symbolic links are not allowed in a code bundle");
    case S_IFCHR:
    case S_IFBLK:
      return entry_error(entry.name, "device nodes are not allowed in a code bundle");
    case S_IFIFO:
      return entry_error(entry.name, "FIFOs are not allowed in a code bundle");
    default:
      return entry_error(entry.name, "only regular files and directories are allowed");
  }
  entry.executable = !entry.directory && (mode & 0111) != 0;
  return {};
}

// One central directory header at `at` (bounds of its fixed part checked by
// the caller); `at` moves past it.
Result<ZipEntry> read_central_header(std::string_view zip, size_t& at, size_t directory_end) {
  if (le32(zip, at) != kCentralHeaderSignature)
    return archive_error("central directory header missing at offset " + std::to_string(at));
  const uint16_t made_by = le16(zip, at + 4);
  const uint16_t flags = le16(zip, at + 8);
  ZipEntry entry;
  entry.method = le16(zip, at + 10);
  entry.crc = le32(zip, at + 16);
  entry.compressed_bytes = le32(zip, at + 20);
  entry.size = le32(zip, at + 24);
  const size_t name_bytes = le16(zip, at + 28);
  const size_t variable_bytes = name_bytes + le16(zip, at + 30) + le16(zip, at + 32);
  const uint32_t external = le32(zip, at + 38);
  entry.local_offset = le32(zip, at + 42);
  if (at + kCentralHeaderBytes + variable_bytes > directory_end)
    return archive_error("central directory header runs past the directory");
  entry.name = std::string(zip.substr(at + kCentralHeaderBytes, name_bytes));
  at += kCentralHeaderBytes + variable_bytes;

  if (entry.name.empty()) return archive_error("entry without a name");
  if (entry.compressed_bytes == kZip64Marker || entry.size == kZip64Marker ||
      entry.local_offset == kZip64Marker)
    return entry_error(entry.name, "zip64 entries are not supported");
  if (flags & (kFlagEncrypted | kFlagStrongEncryption))
    return entry_error(entry.name, "encrypted entries are not supported");
  if (entry.method != kMethodStored && entry.method != kMethodDeflate) {
    return entry_error(entry.name, "compression method " + std::to_string(entry.method) +
                                       " is not supported (only stored and deflate)");
  }
  // A Windows separator: Linux would take it as part of a file name, and a
  // tool on the other side as a directory.
  if (entry.name.find('\\') != std::string::npos)
    return entry_error(entry.name, "backslashes are not allowed in entry names");
  auto relative = entry_relative_path(entry.name, "zip");
  if (!relative) return std::unexpected(relative.error());
  entry.relative = std::move(*relative);
  entry.directory = entry.name.back() == '/';
  if (auto kind = read_entry_kind(made_by, external, entry); !kind)
    return std::unexpected(kind.error());
  if (entry.directory && entry.size != 0)
    return entry_error(entry.name, "a directory entry with data");
  if (!entry.directory && entry.relative.empty())
    return entry_error(entry.name, "a file entry without a file name");
  if (entry.method == kMethodStored && entry.compressed_bytes != entry.size)
    return entry_error(entry.name, "stored entry whose compressed and unpacked sizes differ");
  return entry;
}

// Checks the local header against the central directory and finds the data.
Result<void> read_local_header(std::string_view zip, size_t directory_start, ZipEntry& entry) {
  const uint64_t at = entry.local_offset;
  if (at + kLocalHeaderBytes > directory_start || le32(zip, at) != kLocalHeaderSignature)
    return entry_error(entry.name, "no local header at offset " + std::to_string(at));
  const uint16_t flags = le16(zip, at + 6);
  if (flags & (kFlagEncrypted | kFlagStrongEncryption))
    return entry_error(entry.name, "encrypted entries are not supported");
  if (le16(zip, at + 8) != entry.method)
    return entry_error(entry.name, "local header and central directory disagree on the method");
  const size_t name_bytes = le16(zip, at + 26);
  const size_t extra_bytes = le16(zip, at + 28);
  if (at + kLocalHeaderBytes + name_bytes + extra_bytes > directory_start ||
      zip.substr(at + kLocalHeaderBytes, name_bytes) != entry.name)
    return entry_error(entry.name, "local header and central directory disagree on the name");
  entry.data_offset = at + kLocalHeaderBytes + name_bytes + extra_bytes;
  if (entry.data_offset + entry.compressed_bytes > directory_start)
    return entry_error(entry.name, "data runs past the central directory");
  return {};
}

Result<CentralDirectory> read_central_directory(std::string_view zip) {
  auto end_record = find_end_record(zip);
  if (!end_record) return archive_error("not a zip archive (no end of central directory record)");
  const size_t end = *end_record;
  if (end >= kZip64LocatorBytes && le32(zip, end - kZip64LocatorBytes) == kZip64LocatorSignature)
    return archive_error("zip64 archives are not supported");
  const uint16_t disk = le16(zip, end + 4);
  const uint16_t directory_disk = le16(zip, end + 6);
  const uint16_t entries_here = le16(zip, end + 8);
  const uint16_t entry_count = le16(zip, end + 10);
  const uint32_t directory_bytes = le32(zip, end + 12);
  const uint32_t directory_start = le32(zip, end + 16);
  if (entry_count == 0xffff || directory_bytes == kZip64Marker || directory_start == kZip64Marker)
    return archive_error("zip64 archives are not supported");
  if (disk != 0 || directory_disk != 0 || entries_here != entry_count)
    return archive_error("multi-disk archives are not supported");
  if (entry_count > kMaxZipEntries)
    return archive_error("more than " + std::to_string(kMaxZipEntries) + " entries");
  if (uint64_t{directory_start} + directory_bytes > end)
    return archive_error("central directory runs past its end record");

  CentralDirectory directory;
  directory.entries.reserve(entry_count);
  std::set<std::string> names;
  size_t at = directory_start;
  const size_t directory_end = directory_start + directory_bytes;
  for (size_t i = 0; i < entry_count; ++i) {
    if (at + kCentralHeaderBytes > directory_end)
      return archive_error("central directory ends after " + std::to_string(i) + " of " +
                           std::to_string(entry_count) + " entries");
    auto entry = read_central_header(zip, at, directory_end);
    if (!entry) return std::unexpected(entry.error());
    if (!entry->relative.empty() && !names.insert(entry->relative).second)
      return entry_error(entry->name, "a duplicate name");
    directory.unpacked_bytes += entry->size;
    if (directory.unpacked_bytes > kMaxZipUnpackedBytes)
      return archive_error("unpacks to more than 250 MiB");
    if (auto local = read_local_header(zip, directory_start, *entry); !local)
      return std::unexpected(local.error());
    directory.entries.push_back(std::move(*entry));
  }
  // Entries that share bytes are how a small archive declares many large
  // files (the overlapping-file zip bomb); no honest archive does it.
  std::vector<const ZipEntry*> by_offset;
  for (const auto& entry : directory.entries) by_offset.push_back(&entry);
  std::sort(by_offset.begin(), by_offset.end(),
            [](const ZipEntry* a, const ZipEntry* b) { return a->local_offset < b->local_offset; });
  for (size_t i = 1; i < by_offset.size(); ++i) {
    const ZipEntry& previous = *by_offset[i - 1];
    if (previous.data_offset + previous.compressed_bytes > by_offset[i]->local_offset)
      return entry_error(by_offset[i]->name, "overlaps entry '" + previous.name + "'");
  }
  return directory;
}

// Inflates (raw deflate) `compressed` into `fd`, never more than `size`
// bytes: one byte past the declared size is enough to tell a liar.
Result<uint32_t> inflate_entry(const ZipEntry& entry, std::string_view compressed, int fd,
                               const std::string& path) {
  z_stream stream{};
  if (inflateInit2(&stream, -MAX_WBITS) != Z_OK) return entry_error(entry.name, "inflateInit2 failed");
  struct End {
    z_stream& stream;
    ~End() { inflateEnd(&stream); }
  } end{stream};
  stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(compressed.data()));
  stream.avail_in = static_cast<uInt>(compressed.size());  // < 4 GiB: no zip64
  std::array<unsigned char, kInflateChunk> out;
  uint64_t produced = 0;
  uint32_t crc = crc32(0, nullptr, 0);
  while (true) {
    const size_t room = std::min<uint64_t>(out.size(), entry.size - produced + 1);
    stream.next_out = out.data();
    stream.avail_out = static_cast<uInt>(room);
    const int rc = inflate(&stream, Z_NO_FLUSH);
    const size_t got = room - stream.avail_out;
    if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR)
      return entry_error(entry.name, "corrupt deflate data");
    if (produced + got > entry.size) {
      return entry_error(entry.name, "inflates to more than the " + std::to_string(entry.size) +
                                         " bytes the central directory declares");
    }
    crc = crc32(crc, out.data(), static_cast<uInt>(got));
    if (auto written = write_all(fd, {reinterpret_cast<char*>(out.data()), got}, path); !written)
      return std::unexpected(written.error());
    produced += got;
    if (rc == Z_STREAM_END) break;
    if (got == 0) return entry_error(entry.name, "deflate data ends early");
  }
  if (produced != entry.size) {
    return entry_error(entry.name, "inflates to " + std::to_string(produced) + " bytes, not the " +
                                       std::to_string(entry.size) + " the central directory declares");
  }
  return crc;
}

Result<void> extract_file(std::string_view zip, const ZipEntry& entry, const std::string& root) {
  auto fd = create_entry_file(root, entry.relative, entry.executable);
  if (!fd) return std::unexpected(fd.error());
  const std::string path = root + "/" + entry.relative;
  const std::string_view data = zip.substr(entry.data_offset, entry.compressed_bytes);
  uint32_t crc = 0;
  if (entry.method == kMethodStored) {
    if (auto written = write_all(fd->get(), data, path); !written) return written;
    crc = crc32(crc32(0, nullptr, 0), reinterpret_cast<const Bytef*>(data.data()),
                static_cast<uInt>(data.size()));
  } else {
    auto inflated = inflate_entry(entry, data, fd->get(), path);
    if (!inflated) return std::unexpected(inflated.error());
    crc = *inflated;
  }
  if (crc != entry.crc) return entry_error(entry.name, "CRC-32 mismatch (corrupt data)");
  return {};
}

}  // namespace

Result<uint64_t> zip_unpacked_bytes(std::string_view zip) {
  auto directory = read_central_directory(zip);
  if (!directory) return std::unexpected(directory.error());
  return directory->unpacked_bytes;
}

Result<void> extract_zip(std::string_view zip, const std::string& root) {
  // Everything that needs no inflating is checked before the first write.
  auto directory = read_central_directory(zip);
  if (!directory) return std::unexpected(directory.error());
  for (const ZipEntry& entry : directory->entries) {
    if (entry.directory) {
      if (auto made = make_directories(root, entry.relative); !made) return made;
    } else if (auto extracted = extract_file(zip, entry, root); !extracted) {
      return extracted;
    }
  }
  return {};
}

}  // namespace sprout::agent
