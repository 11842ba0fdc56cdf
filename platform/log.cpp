#include "platform/log.hpp"

#include <unistd.h>

#include <cerrno>
#include <utility>

namespace slimcache::platform {

std::optional<LogLevel> parse_log_level(std::string_view name) {
  if (name == "error") return LogLevel::k_error;
  if (name == "warning") return LogLevel::k_warning;
  if (name == "notice") return LogLevel::k_notice;
  if (name == "info") return LogLevel::k_info;
  if (name == "debug") return LogLevel::k_debug;
  return std::nullopt;
}

std::string_view log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::k_error: return "error";
    case LogLevel::k_warning: return "warning";
    case LogLevel::k_notice: return "notice";
    case LogLevel::k_info: return "info";
    case LogLevel::k_debug: return "debug";
  }
  return "unknown";
}

namespace {

void write_stderr(std::string_view line) {
  const char* p = line.data();
  std::size_t left = line.size();
  for (int attempt = 0; left > 0 && attempt < 64; ++attempt) {  // bounded: partial writes, EINTR
    const ssize_t n = ::write(STDERR_FILENO, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;  // nowhere to report a failing stderr
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace

Logger::Logger(LogLevel level, Sink sink)
    : m_level(static_cast<int>(level)), m_sink(sink ? std::move(sink) : Sink(write_stderr)) {}

void Logger::write(LogLevel level, std::string_view message) {
  if (!enabled(level)) return;
  // Priorities are single digits (3..7).
  const char prefix[] = {'<', static_cast<char>('0' + static_cast<int>(level)), '>', '\0'};
  std::lock_guard lock(m_mutex);
  std::size_t start = 0;
  do {
    std::size_t end = message.find('\n', start);
    if (end == std::string_view::npos) end = message.size();
    std::string line = prefix;
    line.append(message.substr(start, end - start));
    line += '\n';
    m_sink(line);
    start = end + 1;
  } while (start < message.size());
}

Logger& Logger::global() {
  static Logger logger;
  return logger;
}

RateLimiter::RateLimiter(const Clock& clock, Duration interval, std::uint32_t burst)
    : m_clock(clock), m_interval(interval), m_burst(burst) {}

void RateLimiter::configure(Duration interval, std::uint32_t burst) {
  std::lock_guard lock(m_mutex);
  m_interval = interval;
  m_burst = burst;
}

RateLimiter::Decision RateLimiter::check(std::string_view key) {
  std::lock_guard lock(m_mutex);
  if (m_interval.count() <= 0) return {true, 0};
  const TimePoint now = m_clock.now();
  auto it = m_windows.find(std::string(key));
  if (it == m_windows.end()) {
    if (m_windows.size() >= k_max_keys) {
      // Forget the oldest windows (their pending suppressed counts are lost, never their limit).
      auto oldest = m_windows.begin();
      for (auto w = m_windows.begin(); w != m_windows.end(); ++w)
        if (w->second.start < oldest->second.start) oldest = w;
      m_windows.erase(oldest);
    }
    it = m_windows.emplace(std::string(key), Window{now, 0, 0}).first;
  }
  Window& w = it->second;
  if (now - w.start >= m_interval) {
    w.start = now;
    w.count = 0;
  }
  if (w.count >= m_burst) {
    ++w.suppressed;
    return {false, 0};
  }
  ++w.count;
  return {true, std::exchange(w.suppressed, 0)};
}

bool write_limited(Logger& logger, RateLimiter& limiter, std::string_view key, LogLevel level,
                   std::string_view message) {
  if (!logger.enabled(level)) return false;
  const RateLimiter::Decision d = limiter.check(key);
  if (!d.allow) return false;
  if (d.suppressed == 0) {
    logger.write(level, message);
  } else {
    logger.write(level, std::string(message) + " (" + std::to_string(d.suppressed) + " similar messages suppressed)");
  }
  return true;
}

}  // namespace slimcache::platform
