#include "agent/gossip/suspicion.hpp"

#include <algorithm>
#include <cmath>

namespace slimcache::agent::gossip {

Suspicion::Suspicion(std::string first_accuser, int expected_confirmations, Duration min, Duration max, TimePoint start)
    : m_first(std::move(first_accuser)), m_k(expected_confirmations), m_min(min), m_max(std::max(min, max)), m_start(start) {}

bool Suspicion::confirm(const std::string& from) {
  if (from == m_first || static_cast<int>(m_confirmed.size()) >= m_k) return false;
  return m_confirmed.insert(from).second;
}

TimePoint Suspicion::deadline() const {
  if (m_k < 1) return m_start + m_min;
  const double frac = std::log(static_cast<double>(m_confirmed.size()) + 1.0) / std::log(static_cast<double>(m_k) + 1.0);
  const double span = static_cast<double>((m_max - m_min).count());
  const auto timeout = m_max - Duration(static_cast<Duration::rep>(span * frac));
  return m_start + std::max(m_min, timeout);
}

Duration Suspicion::min_timeout(int suspicion_mult, std::size_t n, Duration probe_interval) {
  const double scale = std::max(1.0, std::log10(static_cast<double>(std::max<std::size_t>(n, 1))));
  return Duration(static_cast<Duration::rep>(suspicion_mult * scale * static_cast<double>(probe_interval.count())));
}

}  // namespace slimcache::agent::gossip
