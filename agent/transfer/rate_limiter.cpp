#include "agent/transfer/rate_limiter.hpp"

#include <algorithm>
#include <cmath>
#include <thread>

namespace slimcache::agent::transfer {

TokenBucket::TokenBucket(std::uint64_t rate_bytes_per_s, std::uint64_t burst_bytes, platform::TimePoint now)
    : m_rate(rate_bytes_per_s), m_burst(std::max<std::uint64_t>(burst_bytes, 1)),
      m_tokens(static_cast<double>(m_burst)), m_last(now) {}

void TokenBucket::refill(platform::TimePoint now) {
  if (now <= m_last) return;
  const double seconds = std::chrono::duration<double>(now - m_last).count();
  m_tokens = std::min(static_cast<double>(m_burst), m_tokens + seconds * static_cast<double>(m_rate));
  m_last = now;
}

std::uint64_t TokenBucket::take(std::uint64_t n, platform::TimePoint now) {
  if (unlimited()) {
    m_granted += n;
    return n;
  }
  refill(now);
  const auto available = static_cast<std::uint64_t>(std::floor(m_tokens));
  const std::uint64_t got = std::min(n, available);
  m_tokens -= static_cast<double>(got);
  m_granted += got;
  return got;
}

platform::Duration TokenBucket::wait_for(std::uint64_t n, platform::TimePoint now) const {
  if (unlimited()) return platform::Duration{0};
  const double elapsed = now > m_last ? std::chrono::duration<double>(now - m_last).count() : 0.0;
  const double have = std::min(static_cast<double>(m_burst), m_tokens + elapsed * static_cast<double>(m_rate));
  const double need = static_cast<double>(std::min(n, m_burst)) - have;
  if (need <= 0) return platform::Duration{0};
  // Round up so that after the wait the tokens are there.
  const double ns = std::ceil(need / static_cast<double>(m_rate) * 1e9);
  return platform::Duration{static_cast<platform::Duration::rep>(ns) + 1};
}

RateLimiter::RateLimiter(std::uint64_t rate_bytes_per_s, std::uint64_t burst_bytes, const platform::Clock& clock,
                         WaitFn wait)
    : m_clock(clock), m_wait(std::move(wait)), m_rate(rate_bytes_per_s),
      m_bucket(rate_bytes_per_s, burst_bytes != 0 ? burst_bytes : std::max<std::uint64_t>(64u << 10, rate_bytes_per_s / 10),
               clock.now()) {
  if (!m_wait) m_wait = [](platform::Duration d) { std::this_thread::sleep_for(d); };
}

void RateLimiter::acquire(std::uint64_t n) {
  // Bounded: each round either grants tokens or waits for the next ones to accrue.
  while (n > 0) {
    platform::Duration wait{0};
    {
      std::lock_guard lock(m_mutex);
      const platform::TimePoint now = m_clock.now();
      const std::uint64_t want = std::min(n, m_bucket.burst());
      const std::uint64_t got = m_bucket.take(want, now);
      n -= got;
      if (n == 0) return;
      if (got == 0) wait = m_bucket.wait_for(std::min(n, m_bucket.burst()), now);
    }
    if (wait.count() > 0) m_wait(wait);
  }
}

std::uint64_t RateLimiter::granted() const {
  std::lock_guard lock(m_mutex);
  return m_bucket.granted();
}

std::uint64_t RateLimiter::burst() const {
  std::lock_guard lock(m_mutex);
  return m_bucket.burst();
}

}  // namespace slimcache::agent::transfer
