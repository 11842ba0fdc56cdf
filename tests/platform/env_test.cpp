#include "platform/env.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <functional>

#include "platform/fault_injection_env.hpp"
#include "platform/mem_env.hpp"
#include "platform/posix_env.hpp"

namespace slimcache::platform {
namespace {

std::vector<std::byte> bytes(std::string_view s) {
  std::vector<std::byte> out(s.size());
  std::memcpy(out.data(), s.data(), s.size());
  return out;
}

std::string text(const std::vector<std::byte>& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

// The same contract on every Env.
class EnvContract : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "posix") {
      char tmpl[] = "/tmp/slimcache-env-XXXXXX";
      ASSERT_NE(::mkdtemp(tmpl), nullptr);
      m_root = tmpl;
      m_env = &PosixEnv::instance();
    } else {
      m_root = "/mem";
      m_env = &m_mem;
    }
  }
  void TearDown() override {
    if (GetParam() == "posix") std::filesystem::remove_all(m_root);
  }
  Env& env() { return *m_env; }
  std::string path(const std::string& name) { return m_root + "/" + name; }

 private:
  MemEnv m_mem;
  Env* m_env = nullptr;
  std::string m_root;
};

TEST_P(EnvContract, WritesReadsRenamesAndLists) {
  auto& sut = env();
  ASSERT_TRUE(sut.create_dir(path("a/b")).has_value());
  ASSERT_TRUE(sut.write_file_atomic(path("a/b/x"), bytes("hello")).has_value());
  auto read = sut.read_file(path("a/b/x"));
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(text(*read), "hello");
  ASSERT_TRUE(sut.rename_file(path("a/b/x"), path("a/b/y")).has_value());
  EXPECT_FALSE(sut.file_exists(path("a/b/x")));
  auto names = sut.list_dir(path("a/b"));
  ASSERT_TRUE(names.has_value());
  EXPECT_EQ(*names, std::vector<std::string>{"y"});
  auto size = sut.file_size(path("a/b/y"));
  ASSERT_TRUE(size.has_value());
  EXPECT_EQ(*size, 5U);
  auto mapped = sut.map_file(path("a/b/y"));
  ASSERT_TRUE(mapped.has_value());
  EXPECT_EQ((*mapped)->bytes().size(), 5U);
  EXPECT_EQ((*mapped)->bytes()[4], std::byte{'o'});
  ASSERT_TRUE(sut.remove_file(path("a/b/y")).has_value());
  EXPECT_EQ(sut.remove_file(path("a/b/y")).error().code, EnvErrc::k_not_found);
}

TEST_P(EnvContract, ReadingAMissingFileIsNotFound) {
  auto sut = env().new_readable_file(path("missing"));
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, EnvErrc::k_not_found);
  EXPECT_NE(sut.error().to_string().find("missing"), std::string::npos);
}

TEST_P(EnvContract, ALockIsExclusiveUntilReleased) {
  ASSERT_TRUE(env().create_dir(path("")).has_value());
  auto first = env().lock_file(path("LOCK"));
  ASSERT_TRUE(first.has_value());
  auto second = env().lock_file(path("LOCK"));
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, EnvErrc::k_locked);
  first->reset();
  EXPECT_TRUE(env().lock_file(path("LOCK")).has_value());
}

INSTANTIATE_TEST_SUITE_P(Envs, EnvContract, ::testing::Values("posix", "mem"));

TEST(MemEnv, PowerLossKeepsOnlySyncedDataUnderSyncedNames) {
  MemEnv sut;
  ASSERT_TRUE(sut.create_dir("d").has_value());
  ASSERT_TRUE(sut.write_file_atomic("d/durable", bytes("kept")).has_value());
  {
    auto f = sut.new_writable_file("d/unsynced-data");
    ASSERT_TRUE(f.has_value());
    ASSERT_TRUE((*f)->append(bytes("abc")).has_value());
    ASSERT_TRUE(sut.sync_dir("d").has_value());  // name synced, data not
  }
  {
    auto f = sut.new_writable_file("d/unsynced-name");
    ASSERT_TRUE(f.has_value());
    ASSERT_TRUE((*f)->append(bytes("data")).has_value());
    ASSERT_TRUE((*f)->sync().has_value());  // data synced, name not
  }
  ASSERT_TRUE(sut.rename_file("d/durable", "d/renamed").has_value());  // not synced

  sut.power_loss();

  EXPECT_TRUE(sut.file_exists("d/durable"));
  EXPECT_FALSE(sut.file_exists("d/renamed"));
  EXPECT_FALSE(sut.file_exists("d/unsynced-name"));
  auto data = sut.read_file("d/unsynced-data");
  ASSERT_TRUE(data.has_value());
  EXPECT_TRUE(data->empty());
  EXPECT_EQ(text(*sut.read_file("d/durable")), "kept");
}

TEST(MemEnv, AFullDiskFailsTheAppendWithNoSpace) {
  MemEnv sut;
  sut.set_capacity(4);
  ASSERT_TRUE(sut.create_dir("d").has_value());
  auto f = sut.new_writable_file("d/f");
  ASSERT_TRUE(f.has_value());
  ASSERT_TRUE((*f)->append(bytes("abc")).has_value());
  auto full = (*f)->append(bytes("de"));
  ASSERT_FALSE(full.has_value());
  EXPECT_EQ(full.error().code, EnvErrc::k_no_space);
}

TEST(FaultInjectionEnv, FailsFromTheGivenCallOnAndRecoversWhenCleared) {
  MemEnv base;
  FaultInjectionEnv sut(base);
  ASSERT_TRUE(sut.create_dir("d").has_value());
  sut.fail_from(sut.calls() + 1, EnvErrc::k_no_space);
  auto f = sut.new_writable_file("d/f");  // the last call that succeeds
  ASSERT_TRUE(f.has_value());
  auto append = (*f)->append(bytes("abcd"));  // fails, half written
  ASSERT_FALSE(append.has_value());
  EXPECT_EQ(append.error().code, EnvErrc::k_no_space);
  EXPECT_FALSE((*f)->sync().has_value());  // persistent
  EXPECT_EQ(text(*base.read_file("d/f")), "ab");
  sut.clear_faults();
  EXPECT_TRUE((*f)->sync().has_value());
}

TEST(FaultInjectionEnv, FailOnceFailsOnlyThatCall) {
  MemEnv base;
  FaultInjectionEnv sut(base);
  sut.fail_once(1);
  EXPECT_TRUE(sut.create_dir("d").has_value());
  EXPECT_FALSE(sut.create_dir("e").has_value());
  EXPECT_TRUE(sut.create_dir("e").has_value());
}

}  // namespace
}  // namespace slimcache::platform
