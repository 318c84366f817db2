// agent/code_bundle: laying out a function's code (tar, zip or single
// file) and refusing what would escape its directory or lie about its size.
#include "agent/code_bundle.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "agent/zip_bundle.h"

namespace sprout {
namespace {

// A ustar header for `name` with `size` bytes and `type`.
std::string tar_header(const std::string& name, size_t size, char type) {
  std::string block(512, '\0');
  memcpy(block.data(), name.data(), std::min<size_t>(name.size(), 100));
  snprintf(block.data() + 100, 8, "%07o", 0644);
  snprintf(block.data() + 124, 12, "%011zo", size);
  block[156] = type;
  memcpy(block.data() + 257, "ustar", 5);
  return block;
}

std::string tar_entry(const std::string& name, const std::string& data, char type = '0') {
  std::string out = tar_header(name, data.size(), type) + data;
  out.append((512 - data.size() % 512) % 512, '\0');
  return out;
}


// Writes .zip archives byte by byte (APPNOTE.TXT), so that a test can make
// every lie a hostile archive could tell: sizes, CRCs, modes, flags, names.
class ZipBuilder {
 public:
  struct Entry {
    std::string name;
    std::string data;
    bool deflate = true;
    uint32_t unix_mode = 0100644;  // 0: made on MS-DOS, no mode
    uint16_t flags = 0;
    uint16_t method_override = 0xffff;
    // Lies in the central directory (unset: the truth).
    int64_t declared_size = -1;
    int64_t declared_crc = -1;
  };

  ZipBuilder& add(Entry entry) {
    entries_.push_back(std::move(entry));
    return *this;
  }
  ZipBuilder& file(const std::string& name, const std::string& data, uint32_t mode = 0100644) {
    return add({.name = name, .data = data, .unix_mode = mode});
  }

  std::string build() const {
    std::string out, central;
    for (const Entry& entry : entries_) {
      const std::string packed = entry.deflate ? deflate_raw(entry.data) : entry.data;
      const uint16_t method =
          entry.method_override != 0xffff ? entry.method_override : (entry.deflate ? 8 : 0);
      const uint32_t crc = entry.declared_crc >= 0
                               ? static_cast<uint32_t>(entry.declared_crc)
                               : static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(
                                                                   entry.data.data()),
                                                             entry.data.size()));
      const uint32_t size = entry.declared_size >= 0 ? static_cast<uint32_t>(entry.declared_size)
                                                     : static_cast<uint32_t>(entry.data.size());
      const uint32_t offset = static_cast<uint32_t>(out.size());
      put32(out, 0x04034b50);
      put16(out, 20), put16(out, entry.flags), put16(out, method), put32(out, 0);
      put32(out, crc), put32(out, static_cast<uint32_t>(packed.size())), put32(out, size);
      put16(out, static_cast<uint16_t>(entry.name.size())), put16(out, 0);
      out += entry.name + packed;

      put32(central, 0x02014b50);
      put16(central, entry.unix_mode ? (3 << 8) | 20 : 20);  // made by Unix / MS-DOS
      put16(central, 20), put16(central, entry.flags), put16(central, method);
      put32(central, 0), put32(central, crc);
      put32(central, static_cast<uint32_t>(packed.size())), put32(central, size);
      put16(central, static_cast<uint16_t>(entry.name.size())), put16(central, 0), put16(central, 0);
      put16(central, 0), put16(central, 0);
      const bool directory = !entry.name.empty() && entry.name.back() == '/';
      put32(central, entry.unix_mode << 16 | (directory ? 0x10 : 0));
      put32(central, offset);
      central += entry.name;
    }
    const uint32_t central_offset = static_cast<uint32_t>(out.size());
    out += central;
    put32(out, 0x06054b50);
    put16(out, 0), put16(out, 0);
    put16(out, static_cast<uint16_t>(entries_.size())), put16(out, static_cast<uint16_t>(entries_.size()));
    put32(out, static_cast<uint32_t>(central.size())), put32(out, central_offset);
    put16(out, 0);
    return out;
  }

  static std::string deflate_raw(const std::string& data) {
    z_stream stream{};
    EXPECT_EQ(deflateInit2(&stream, 9, Z_DEFLATED, -MAX_WBITS, 8, Z_DEFAULT_STRATEGY), Z_OK);
    std::string out(deflateBound(&stream, data.size()), '\0');
    stream.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    stream.avail_in = static_cast<uInt>(data.size());
    stream.next_out = reinterpret_cast<Bytef*>(out.data());
    stream.avail_out = static_cast<uInt>(out.size());
    EXPECT_EQ(deflate(&stream, Z_FINISH), Z_STREAM_END);
    out.resize(stream.total_out);
    deflateEnd(&stream);
    return out;
  }

 private:
  static void put16(std::string& out, uint16_t v) {
    out += static_cast<char>(v & 0xff);
    out += static_cast<char>(v >> 8);
  }
  static void put32(std::string& out, uint32_t v) {
    put16(out, static_cast<uint16_t>(v & 0xffff));
    put16(out, static_cast<uint16_t>(v >> 16));
  }
  std::vector<Entry> entries_;
};

class CodeBundleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/sprout-test-bundle-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string read(const std::string& relative) {
    std::ifstream in(dir_ + "/" + relative);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  // The refusal's message, or "" when the archive was laid out.
  std::string zip_refusal(const std::string& zip) {
    auto laid = agent::lay_out_bundle(zip, agent::ZIP, "", dir_);
    return laid ? std::string() : laid.error().message();
  }
  std::string dir_;
};

TEST_F(CodeBundleTest, TarWithDirectoriesAndGnuLongNames) {
  const std::string long_name = "pkg/" + std::string(120, 'n') + ".py";
  std::string tar = tar_entry("./pkg/", "", '5') + tar_entry("./pkg/a.py", "A = 1\n") +
                    tar_entry("././@LongLink", long_name + std::string(1, '\0'), 'L') +
                    tar_entry("ignored", "long\n") + std::string(1024, '\0');
  auto laid = agent::lay_out_bundle(tar, agent::TAR, "", dir_);
  ASSERT_TRUE(laid.has_value()) << laid.error().message();
  EXPECT_EQ(read("pkg/a.py"), "A = 1\n");
  EXPECT_EQ(read(long_name), "long\n");
}

TEST_F(CodeBundleTest, RefusesEscapesLinksAndTruncation) {
  auto refused = [&](const std::string& tar) {
    auto laid = agent::lay_out_bundle(tar, agent::TAR, "", dir_);
    return laid ? std::string() : laid.error().message();
  };
  EXPECT_NE(refused(tar_entry("../evil.py", "x") + std::string(1024, '\0'))
                .find("escaping path: '../evil.py'"),
            std::string::npos);
  EXPECT_NE(refused(tar_entry("/etc/evil", "x") + std::string(1024, '\0')).find("escaping path"),
            std::string::npos);
  EXPECT_NE(refused(tar_entry("link", "", '2') + std::string(1024, '\0'))
                .find("unsupported tar entry type '2'"),
            std::string::npos);
  EXPECT_NE(refused(tar_entry("cut.py", std::string(2000, 'x')).substr(0, 1024))
                .find("runs past the end"),
            std::string::npos);
  EXPECT_NE(refused(tar_entry("nomarker.py", "x")).find("end-of-archive"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir_).parent_path() / "evil.py"));
}

TEST_F(CodeBundleTest, ZipStoredAndDeflatedFilesDirectoriesAndModes) {
  std::string zip = ZipBuilder()
                        .add({.name = "pkg/", .data = "", .deflate = false, .unix_mode = 040755})
                        .file("pkg/__init__.py", "")
                        .file("app.py", "def handler(e, c):\n    return 1\n" + std::string(5000, '#'))
                        .add({.name = "raw.txt", .data = "stored bytes", .deflate = false})
                        .file("bin/run.sh", "#!/bin/sh\ncat\n", 0100755)
                        .add({.name = "dos.txt", .data = "made on MS-DOS", .unix_mode = 0})
                        .build();
  ASSERT_EQ(zip_refusal(zip), "");
  EXPECT_EQ(read("app.py"), "def handler(e, c):\n    return 1\n" + std::string(5000, '#'));
  EXPECT_EQ(read("raw.txt"), "stored bytes");
  EXPECT_EQ(read("dos.txt"), "made on MS-DOS");
  EXPECT_TRUE(std::filesystem::is_directory(dir_ + "/pkg"));
  struct stat st{};
  ASSERT_EQ(stat((dir_ + "/bin/run.sh").c_str(), &st), 0);
  EXPECT_NE(st.st_mode & 0100, 0u) << "the executable bit of the Unix mode is kept";
  ASSERT_EQ(stat((dir_ + "/app.py").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0111, 0u);
  EXPECT_EQ(*agent::bundle_unpacked_bytes(zip, agent::ZIP),
            read("app.py").size() + 12 + 14 + 14);
}

TEST_F(CodeBundleTest, ZipMadeByPythonsZipfileAndInfoZip) {
  const std::string source = dir_ + "/src";
  std::filesystem::create_directories(source + "/lib");
  std::ofstream(source + "/lib/mod.py") << "VALUE = 42\n";
  std::ofstream(source + "/run.sh") << "#!/bin/sh\necho hi\n";
  std::filesystem::permissions(source + "/run.sh", std::filesystem::perms::owner_exec,
                               std::filesystem::perm_options::add);
  const std::string python_zip = dir_ + "/py.zip", info_zip = dir_ + "/info.zip";
  const std::string python =
      "/usr/bin/python3 -c \"import zipfile, sys; z = zipfile.ZipFile(sys.argv[1], 'w', "
      "zipfile.ZIP_DEFLATED); z.mkdir('lib'); z.write(sys.argv[2] + '/lib/mod.py', "
      "'lib/mod.py'); z.write(sys.argv[2] + '/run.sh', 'run.sh'); z.close()\" " +
      python_zip + " " + source;
  ASSERT_EQ(std::system(python.c_str()), 0);
  ASSERT_EQ(std::system(("cd " + source + " && zip -qr " + info_zip + " lib run.sh").c_str()), 0);
  for (const std::string& archive : {python_zip, info_zip}) {
    std::ifstream in(archive, std::ios::binary);
    const std::string zip((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const std::string out = dir_ + "/out-" + archive.substr(archive.rfind('/') + 1);
    std::filesystem::create_directory(out);
    auto laid = agent::lay_out_bundle(zip, agent::ZIP, "", out);
    ASSERT_TRUE(laid.has_value()) << archive << ": " << laid.error().message();
    std::ifstream mod(out + "/lib/mod.py");
    EXPECT_EQ(std::string((std::istreambuf_iterator<char>(mod)), std::istreambuf_iterator<char>()),
              "VALUE = 42\n");
    struct stat st{};
    ASSERT_EQ(stat((out + "/run.sh").c_str(), &st), 0);
    EXPECT_NE(st.st_mode & 0100, 0u) << archive;
  }
}

TEST_F(CodeBundleTest, ZipRefusesEscapesAndWhatIsNotAFileOrDirectory) {
  auto one = [](ZipBuilder::Entry entry) { return ZipBuilder().add(std::move(entry)).build(); };
  EXPECT_NE(zip_refusal(one({.name = "../evil.py", .data = "x"})).find("escaping path: '../evil.py'"),
            std::string::npos);
  EXPECT_NE(zip_refusal(one({.name = "a/../../evil.py", .data = "x"})).find("escaping path"),
            std::string::npos);
  EXPECT_NE(zip_refusal(one({.name = "/etc/evil", .data = "x"})).find("escaping path: '/etc/evil'"),
            std::string::npos);
  EXPECT_NE(zip_refusal(one({.name = "..\\evil.py", .data = "x"})).find("backslashes"),
            std::string::npos);
  EXPECT_NE(zip_refusal(one({.name = std::string(256, 'n'), .data = "x"})).find("over 255 bytes"),
            std::string::npos);
  EXPECT_NE(zip_refusal(one({.name = "link", .data = "/etc/passwd", .unix_mode = 0120777}))
                .find("entry 'link': symbolic links"),
            std::string::npos);
  EXPECT_NE(zip_refusal(one({.name = "null", .data = "", .unix_mode = 020666})).find("device"),
            std::string::npos);
  EXPECT_NE(zip_refusal(one({.name = "disk", .data = "", .unix_mode = 060666})).find("device"),
            std::string::npos);
  EXPECT_NE(zip_refusal(one({.name = "pipe", .data = "", .unix_mode = 010644})).find("FIFO"),
            std::string::npos);
  EXPECT_NE(zip_refusal(one({.name = "sock", .data = "", .unix_mode = 0140644}))
                .find("only regular files and directories"),
            std::string::npos);
  EXPECT_NE(zip_refusal(one({.name = "secret.py", .data = "x", .flags = 1})).find("encrypted"),
            std::string::npos);
  EXPECT_NE(zip_refusal(one({.name = "bz.py", .data = "x", .method_override = 12}))
                .find("compression method 12"),
            std::string::npos);
  EXPECT_NE(zip_refusal(ZipBuilder().file("a.py", "1").file("./a.py", "2").build())
                .find("entry './a.py': a duplicate name"),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::path(dir_).parent_path() / "evil.py"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/link"));
}

TEST_F(CodeBundleTest, ZipRefusesLiesAboutSizesAndCrc) {
  const std::string big(100000, 'z');
  // Inflating stops one byte past the declared size.
  EXPECT_NE(zip_refusal(ZipBuilder().add({.name = "bomb.bin", .data = big, .declared_size = 10}).build())
                .find("inflates to more than the 10 bytes"),
            std::string::npos);
  EXPECT_LE(std::filesystem::file_size(dir_ + "/bomb.bin"), 10u);
  EXPECT_NE(zip_refusal(ZipBuilder().add({.name = "short.bin", .data = "abc", .declared_size = 4}).build())
                .find("inflates to 3 bytes, not the 4"),
            std::string::npos);
  EXPECT_NE(zip_refusal(ZipBuilder().add({.name = "crc.py", .data = "x = 1", .declared_crc = 7}).build())
                .find("entry 'crc.py': CRC-32 mismatch"),
            std::string::npos);
  EXPECT_NE(zip_refusal(ZipBuilder()
                            .add({.name = "crc.txt", .data = "x", .deflate = false, .declared_crc = 7})
                            .build())
                .find("CRC-32 mismatch"),
            std::string::npos);
  // Declared over Lambda's 250 MiB unpacked: refused before anything is written.
  ZipBuilder huge;
  for (int i = 0; i < 3; ++i)
    huge.add({.name = "part" + std::to_string(i), .data = "x", .declared_size = 100ll << 20});
  EXPECT_NE(zip_refusal(huge.build()).find("unpacks to more than 250 MiB"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/part0"));
  EXPECT_FALSE(agent::bundle_unpacked_bytes(huge.build(), agent::ZIP).has_value());
}

TEST_F(CodeBundleTest, ZipRefusesBrokenAndUnsupportedArchives) {
  const std::string good = ZipBuilder().file("a.py", "A = 1\n").file("b.py", "B = 2\n").build();
  EXPECT_NE(zip_refusal("not a zip at all").find("no end of central directory"), std::string::npos);
  EXPECT_NE(zip_refusal(good.substr(0, good.size() - 5)).find("no end of central directory"),
            std::string::npos);
  // Truncated in the middle: the central directory's offset points past the data.
  std::string cut = good.substr(0, 20) + good.substr(good.size() - 22);
  EXPECT_NE(zip_refusal(cut), "");
  // Corrupt deflate data.
  std::string corrupt = good;
  corrupt[30 + 4] = static_cast<char>(0xff);
  corrupt[30 + 5] = static_cast<char>(0xff);
  EXPECT_NE(zip_refusal(corrupt), "");
  // zip64 marker in the end record's entry count.
  std::string zip64 = good;
  zip64[zip64.size() - 12] = zip64[zip64.size() - 11] = static_cast<char>(0xff);
  EXPECT_NE(zip_refusal(zip64).find("zip64"), std::string::npos);
  // More than 10,000 entries.
  ZipBuilder many;
  for (int i = 0; i <= 10000; ++i) many.add({.name = "f" + std::to_string(i), .data = "", .deflate = false});
  EXPECT_NE(zip_refusal(many.build()).find("more than 10000 entries"), std::string::npos);
  // An entry quoted inside another's data (the overlapping-file zip bomb):
  // "a" is stored, and its data is b's whole local entry.
  const std::string inner = ZipBuilder().add({.name = "b", .data = "B", .deflate = false}).build();
  const std::string b_local = inner.substr(0, 30 + 1 + 1), b_central = inner.substr(32, 46 + 1);
  const std::string outer = ZipBuilder().add({.name = "a", .data = b_local, .deflate = false}).build();
  const size_t central_offset = 30 + 1 + b_local.size();
  std::string quoted = outer.substr(0, central_offset + 46 + 1) + b_central;
  quoted[central_offset + 47 + 42] = static_cast<char>(31);  // b's local header, inside a's data
  quoted += std::string("\x50\x4b\x05\x06\0\0\0\0\x02\0\x02\0", 12);
  quoted += std::string("\x5e\0\0\0", 4);  // central directory: 2 * 47 bytes
  quoted += std::string(1, static_cast<char>(central_offset)) + std::string(3, '\0');
  quoted += std::string(2, '\0');
  EXPECT_NE(zip_refusal(quoted).find("entry 'b': overlaps entry 'a'"), std::string::npos)
      << zip_refusal(quoted);
  EXPECT_EQ(zip_refusal(ZipBuilder().build()), "") << "an empty archive lays out nothing";
}

TEST_F(CodeBundleTest, SingleFileMustBeAPlainName) {
  EXPECT_TRUE(agent::lay_out_bundle("print(1)\n", agent::SINGLE_FILE, "main.py", dir_).has_value());
  EXPECT_EQ(read("main.py"), "print(1)\n");
  EXPECT_FALSE(agent::lay_out_bundle("x", agent::SINGLE_FILE, "../main.py", dir_).has_value());
  EXPECT_FALSE(agent::lay_out_bundle("x", agent::SINGLE_FILE, "a/b.py", dir_).has_value());
}

}  // namespace
}  // namespace sprout
