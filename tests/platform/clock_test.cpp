#include "platform/clock.hpp"

#include <gtest/gtest.h>

namespace slimcache::platform {
namespace {

TEST(ManualClock, AdvancesOnlyWhenTold) {
  ManualClock sut;
  const auto t0 = sut.now();
  EXPECT_EQ(sut.now(), t0);
  sut.advance(std::chrono::milliseconds(1500));
  EXPECT_EQ(sut.now() - t0, std::chrono::milliseconds(1500));
  EXPECT_EQ(sut.unix_seconds(), 1'700'000'001);
}

TEST(SystemClock, IsMonotonic) {
  auto& sut = SystemClock::instance();
  const auto a = sut.now();
  const auto b = sut.now();
  EXPECT_LE(a, b);
  EXPECT_GT(sut.unix_seconds(), 1'600'000'000);
}

}  // namespace
}  // namespace slimcache::platform
