#pragma once
// Lifeguard local health awareness (memberlist awareness.go): a score in [0, max-1] that
// rises when this node misses acks or nacks or must refute a suspicion of itself, falls on
// every successful probe, and stretches this node's own probe interval and timeouts by
// (score + 1) so a slow node stops accusing healthy peers. O(1); not thread-safe.
#include <algorithm>

#include "agent/gossip/types.hpp"

namespace slimcache::agent::gossip {

class Awareness {
 public:
  explicit Awareness(int max_multiplier) : m_max(max_multiplier) {}
  void apply_delta(int delta) { m_score = std::clamp(m_score + delta, 0, m_max - 1); }
  [[nodiscard]] int score() const { return m_score; }
  [[nodiscard]] Duration scale(Duration d) const { return d * (m_score + 1); }

 private:
  int m_max;
  int m_score = 0;
};

}  // namespace slimcache::agent::gossip
