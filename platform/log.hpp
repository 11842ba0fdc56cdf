#pragma once
// Logging to stderr with journald priority prefixes: "<3>" error, "<4>" warning,
// "<5>" notice, "<6>" info, "<7>" debug (systemd reads them from a service's stderr).
//
//   SLIM_LOG(logger, LogLevel::k_info) << "joined " << n << " members";
//
// Cheap when disabled: the macro tests one relaxed atomic and evaluates nothing else.
// Each message is written as whole lines with one write() each (multi-line messages get
// the prefix on every line), so lines of concurrent threads never interleave.
// Threads: Logger and RateLimiter are thread-safe. Ownership: the Logger owns its sink.
#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>

#include "platform/clock.hpp"

namespace slimcache::platform {

enum class LogLevel : int { k_error = 3, k_warning = 4, k_notice = 5, k_info = 6, k_debug = 7 };

// "error", "warning", "notice", "info", "debug" (the logging.level values); nullopt otherwise.
[[nodiscard]] std::optional<LogLevel> parse_log_level(std::string_view name);
[[nodiscard]] std::string_view log_level_name(LogLevel level);

class Logger {
 public:
  // Receives one complete line, prefix and '\n' included.
  using Sink = std::function<void(std::string_view line)>;
  // The default sink writes to file descriptor 2.
  explicit Logger(LogLevel level = LogLevel::k_info, Sink sink = {});

  void set_level(LogLevel level) { m_level.store(static_cast<int>(level), std::memory_order_relaxed); }
  [[nodiscard]] LogLevel level() const { return static_cast<LogLevel>(m_level.load(std::memory_order_relaxed)); }
  [[nodiscard]] bool enabled(LogLevel level) const {
    return static_cast<int>(level) <= m_level.load(std::memory_order_relaxed);
  }
  // Writes `message` if `level` is enabled.
  void write(LogLevel level, std::string_view message);

  // The process-wide logger (stderr, info).
  static Logger& global();

 private:
  std::atomic<int> m_level;
  Sink m_sink;
  std::mutex m_mutex;  // serialises the sink
};

// Lets through at most `burst` messages per key in each `interval`; the first message let
// through after a window with drops reports how many were dropped. interval 0 = no limit.
// Keys are bounded (k_max_keys): when full, the keys of the oldest windows are forgotten.
class RateLimiter {
 public:
  static constexpr std::size_t k_max_keys = 1024;
  struct Decision {
    bool allow = false;
    std::uint64_t suppressed = 0;  // dropped since the last message let through for this key
  };
  RateLimiter(const Clock& clock, Duration interval, std::uint32_t burst);
  [[nodiscard]] Decision check(std::string_view key);
  void configure(Duration interval, std::uint32_t burst);

 private:
  struct Window {
    TimePoint start;
    std::uint32_t count = 0;
    std::uint64_t suppressed = 0;
  };
  const Clock& m_clock;
  Duration m_interval;
  std::uint32_t m_burst;
  std::mutex m_mutex;
  std::unordered_map<std::string, Window> m_windows;
};

// Writes `message` through `limiter` under `key` (appending "(N similar messages
// suppressed)" when some were dropped). Returns whether it was written.
bool write_limited(Logger& logger, RateLimiter& limiter, std::string_view key, LogLevel level,
                   std::string_view message);

namespace detail {
// Collects one message and writes it when destroyed.
class LogLine {
 public:
  LogLine(Logger& logger, LogLevel level) : m_logger(logger), m_level(level) {}
  ~LogLine() { m_logger.write(m_level, m_out.str()); }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;
  std::ostringstream& stream() { return m_out; }

 private:
  Logger& m_logger;
  LogLevel m_level;
  std::ostringstream m_out;
};
// Turns the stream expression into void so both branches of SLIM_LOG's ?: match.
struct LogVoidify {
  void operator&(std::ostream&) {}
};
}  // namespace detail

}  // namespace slimcache::platform

// The stream expression is not evaluated when the level is disabled. An expression (not an
// if/else), so it is safe as the body of an unbraced if.
#define SLIM_LOG(logger, level)                                      \
  !(logger).enabled(level) ? (void)0                                 \
                           : ::slimcache::platform::detail::LogVoidify() & \
                                 ::slimcache::platform::detail::LogLine((logger), (level)).stream()
