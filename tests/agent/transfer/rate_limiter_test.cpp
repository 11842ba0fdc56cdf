#include "agent/transfer/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <random>

namespace slimcache::agent::transfer {
namespace {

using namespace std::chrono_literals;
using platform::Duration;
using platform::ManualClock;

TEST(TokenBucket, GrantsAtMostBurstPlusRateTimesElapsedOverSeededRandomRequests) {
  const std::uint64_t seed = 20261122;
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::mt19937_64 rng(seed);
  ManualClock clock;
  const auto start = clock.now();
  TokenBucket sut(1'000'000, 50'000, start);

  for (int step = 0; step < 2000; ++step) {
    clock.advance(Duration{static_cast<Duration::rep>(rng() % 5'000'000)});  // up to 5 ms
    (void)sut.take(rng() % 80'000, clock.now());
    const double elapsed = std::chrono::duration<double>(clock.now() - start).count();
    ASSERT_LE(static_cast<double>(sut.granted()), 50'000 + 1'000'000 * elapsed) << "step " << step;
  }
  EXPECT_GT(sut.granted(), 0u);
}

TEST(TokenBucket, WaitForIsEnoughForTheTokensToAccrue) {
  ManualClock clock;
  TokenBucket sut(1000, 100, clock.now());
  ASSERT_EQ(sut.take(100, clock.now()), 100u);

  const Duration wait = sut.wait_for(60, clock.now());
  clock.advance(wait);

  EXPECT_EQ(sut.take(60, clock.now()), 60u);
  EXPECT_GE(wait, Duration{std::chrono::milliseconds(60)});
}

TEST(TokenBucket, ZeroRateIsUnlimited) {
  ManualClock clock;
  TokenBucket sut(0, 0, clock.now());

  EXPECT_EQ(sut.take(1ull << 40, clock.now()), 1ull << 40);
  EXPECT_EQ(sut.wait_for(1ull << 40, clock.now()), Duration{0});
}

TEST(RateLimiter, AcquireWaitsThroughTheInjectedWaitUntilEveryByteIsGranted) {
  ManualClock clock;
  Duration waited{0};
  RateLimiter sut(100'000, 10'000, clock, [&](Duration d) {
    waited += d;
    clock.advance(d);
  });

  sut.acquire(250'000);

  EXPECT_EQ(sut.granted(), 250'000u);
  // 10 000 bytes of burst, the other 240 000 at 100 000 B/s.
  EXPECT_GE(waited, Duration{std::chrono::milliseconds(2400)});
  EXPECT_LE(waited, Duration{std::chrono::milliseconds(2500)});
}

}  // namespace
}  // namespace slimcache::agent::transfer
