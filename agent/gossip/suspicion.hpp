#pragma once
// Lifeguard suspicion timer (memberlist suspicion.go). A suspicion starts with the maximum
// timeout and shrinks, as independent confirmations arrive, towards the minimum:
//
//   timeout(c) = max(min, max - (max - min) * log(c + 1) / log(k + 1))
//
// where c is the number of distinct confirming nodes (the first accuser excluded) and k the
// number expected (suspicion_mult - 2, or 0 in tiny clusters, which means timeout = min).
// min = suspicion_mult * max(1, log10(n)) * probe_interval, max = max_mult * min.
// O(1) per confirmation plus a set lookup; not thread-safe.
#include <set>
#include <string>

#include "agent/gossip/types.hpp"

namespace slimcache::agent::gossip {

class Suspicion {
 public:
  Suspicion(std::string first_accuser, int expected_confirmations, Duration min, Duration max, TimePoint start);
  // Counts a confirmation from `from`; true when it is new (and worth re-gossiping).
  bool confirm(const std::string& from);
  [[nodiscard]] TimePoint deadline() const;
  [[nodiscard]] int confirmations() const { return static_cast<int>(m_confirmed.size()); }
  [[nodiscard]] TimePoint start() const { return m_start; }
  [[nodiscard]] Duration min() const { return m_min; }

  // The minimum suspicion timeout for a cluster of n nodes.
  [[nodiscard]] static Duration min_timeout(int suspicion_mult, std::size_t n, Duration probe_interval);

 private:
  std::set<std::string> m_confirmed;
  std::string m_first;
  int m_k;
  Duration m_min;
  Duration m_max;
  TimePoint m_start;
};

}  // namespace slimcache::agent::gossip
