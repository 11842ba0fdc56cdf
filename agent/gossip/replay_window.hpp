#pragma once
// Replay protection per sender: a sliding window of the last 128 packet sequence numbers
// of the sender's current boot epoch (as IPsec's anti-replay window). A packet is accepted
// once; older epochs and sequence numbers below the window are rejected. O(1).
#include <bitset>
#include <cstdint>

namespace slimcache::agent::gossip {

class ReplayWindow {
 public:
  static constexpr std::uint64_t k_size = 128;
  // True (and remembered) if (epoch, seq) was not seen and is not too old.
  bool accept(std::uint64_t epoch, std::uint64_t seq) {
    if (!m_started || epoch > m_epoch) {
      m_started = true;
      m_epoch = epoch;
      m_top = seq;
      m_seen.reset();
      m_seen.set(0);
      return true;
    }
    if (epoch < m_epoch) return false;
    if (seq > m_top) {
      const std::uint64_t shift = seq - m_top;
      m_seen = shift >= k_size ? std::bitset<k_size>{} : (m_seen << shift);
      m_seen.set(0);
      m_top = seq;
      return true;
    }
    const std::uint64_t back = m_top - seq;
    if (back >= k_size || m_seen.test(back)) return false;
    m_seen.set(back);
    return true;
  }

 private:
  bool m_started = false;
  std::uint64_t m_epoch = 0;
  std::uint64_t m_top = 0;
  std::bitset<k_size> m_seen;
};

}  // namespace slimcache::agent::gossip
