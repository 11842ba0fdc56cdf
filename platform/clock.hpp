#pragma once
// Injected clocks. Everything that waits or times out takes a Clock& so tests run on a
// ManualClock and never sleep.
//
// Thread-safety: SystemClock is stateless. ManualClock is safe to read from any thread
// while one thread advances it.
#include <atomic>
#include <chrono>

namespace slimcache::platform {

using Duration = std::chrono::nanoseconds;
using TimePoint = std::chrono::time_point<std::chrono::steady_clock, Duration>;

class Clock {
 public:
  virtual ~Clock() = default;
  // Monotonic time, never goes backwards.
  [[nodiscard]] virtual TimePoint now() const = 0;
  // Wall-clock seconds since the Unix epoch (for logs and leases visible across processes).
  [[nodiscard]] virtual std::int64_t unix_seconds() const = 0;
};

class SystemClock final : public Clock {
 public:
  [[nodiscard]] TimePoint now() const override;
  [[nodiscard]] std::int64_t unix_seconds() const override;
  // A process-wide instance.
  static SystemClock& instance();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start = TimePoint{}, std::int64_t unix_start = 1'700'000'000)
      : m_now(start.time_since_epoch().count()), m_unix_start(unix_start) {}
  [[nodiscard]] TimePoint now() const override { return TimePoint{Duration{m_now.load()}}; }
  [[nodiscard]] std::int64_t unix_seconds() const override;
  void advance(Duration d) { m_now.fetch_add(d.count()); }
  void set(TimePoint t) { m_now.store(t.time_since_epoch().count()); }

 private:
  std::atomic<Duration::rep> m_now;
  std::int64_t m_unix_start;
};

}  // namespace slimcache::platform
