#pragma once
// Bandwidth limit: a token bucket in bytes (rate bytes/s, burst bytes; rate 0 = unlimited).
//
// TokenBucket is the pure core: take(n, now) grants up to n tokens refilled at `rate` since
// the last call, capped at `burst`; wait_for(n, now) says how long until n tokens exist.
// Guarantee: over any interval [t0, t1] the tokens granted never exceed
// burst + rate * (t1 - t0). granted() counts every token handed out.
//
// RateLimiter wraps a bucket for many transfer threads: acquire(n) blocks until all n bytes
// were granted, waiting through the injected `wait` function (real sleep in the daemon; tests
// advance a ManualClock instead of sleeping). Threads: RateLimiter is thread-safe; the bucket
// is not (the limiter locks around it).
#include <cstdint>
#include <functional>
#include <mutex>

#include "platform/clock.hpp"

namespace slimcache::agent::transfer {

class TokenBucket {
 public:
  TokenBucket(std::uint64_t rate_bytes_per_s, std::uint64_t burst_bytes, platform::TimePoint now);
  [[nodiscard]] bool unlimited() const { return m_rate == 0; }
  [[nodiscard]] std::uint64_t burst() const { return m_burst; }
  std::uint64_t take(std::uint64_t n, platform::TimePoint now);
  [[nodiscard]] platform::Duration wait_for(std::uint64_t n, platform::TimePoint now) const;
  [[nodiscard]] std::uint64_t granted() const { return m_granted; }

 private:
  void refill(platform::TimePoint now);
  std::uint64_t m_rate;
  std::uint64_t m_burst;
  double m_tokens;
  platform::TimePoint m_last;
  std::uint64_t m_granted = 0;
};

class RateLimiter {
 public:
  using WaitFn = std::function<void(platform::Duration)>;
  // burst 0 = max(64 KiB, rate / 10). `wait` defaults to std::this_thread::sleep_for.
  RateLimiter(std::uint64_t rate_bytes_per_s, std::uint64_t burst_bytes, const platform::Clock& clock,
              WaitFn wait = {});
  void acquire(std::uint64_t n);
  [[nodiscard]] std::uint64_t granted() const;
  [[nodiscard]] std::uint64_t rate() const { return m_rate; }
  [[nodiscard]] std::uint64_t burst() const;

 private:
  const platform::Clock& m_clock;
  WaitFn m_wait;
  std::uint64_t m_rate;
  mutable std::mutex m_mutex;
  TokenBucket m_bucket;
};

}  // namespace slimcache::agent::transfer
