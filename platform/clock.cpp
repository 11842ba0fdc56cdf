#include "platform/clock.hpp"

#include <ctime>

namespace slimcache::platform {

TimePoint SystemClock::now() const {
  return std::chrono::time_point_cast<Duration>(std::chrono::steady_clock::now());
}

std::int64_t SystemClock::unix_seconds() const { return static_cast<std::int64_t>(std::time(nullptr)); }

SystemClock& SystemClock::instance() {
  static SystemClock clock;
  return clock;
}

std::int64_t ManualClock::unix_seconds() const {
  return m_unix_start + std::chrono::duration_cast<std::chrono::seconds>(Duration{m_now.load()}).count();
}

}  // namespace slimcache::platform
