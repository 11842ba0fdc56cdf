#include "platform/shared_memory.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

namespace slimcache::platform {
namespace {

std::string unique_name(const char* what) { return std::string("slimcache-test-") + what + "-" + std::to_string(::getpid()); }

TEST(SharedMemory, AReaderSeesTheCreatorsBytes) {
  const auto name = unique_name("shm");
  auto sut = SharedMemory::create(name, 4096, ShmCreate::k_replace);
  ASSERT_TRUE(sut.has_value()) << sut.error().to_string();
  EXPECT_TRUE(sut->writable());
  sut->data()[100] = std::byte{42};
  auto reader = SharedMemory::open(name, ShmAccess::k_read_only);
  ASSERT_TRUE(reader.has_value()) << reader.error().to_string();
  EXPECT_FALSE(reader->writable());
  ASSERT_EQ(reader->size(), 4096U);
  EXPECT_EQ(reader->data()[100], std::byte{42});
  EXPECT_TRUE(SharedMemory::remove(name));
}

TEST(SharedMemory, CreatingAnExistingNameFailsUnlessReplacing) {
  const auto name = unique_name("exists");
  auto first = SharedMemory::create(name, 4096, ShmCreate::k_replace);
  ASSERT_TRUE(first.has_value());
  auto second = SharedMemory::create(name, 4096, ShmCreate::k_new_only);
  ASSERT_FALSE(second.has_value());
  EXPECT_EQ(second.error().code, EnvErrc::k_exists);
  EXPECT_TRUE(SharedMemory::create(name, 8192, ShmCreate::k_replace).has_value());
  EXPECT_TRUE(SharedMemory::remove(name));
}

TEST(SharedMemory, OpeningAMissingNameIsNotFound) {
  auto sut = SharedMemory::open(unique_name("missing"), ShmAccess::k_read_only);
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, EnvErrc::k_not_found);
}

}  // namespace
}  // namespace slimcache::platform
