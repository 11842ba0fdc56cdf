#pragma once
// Smoothed round-trip times per peer from direct probe acks (RFC 6298 estimator:
// srtt += (sample - srtt) / 8, rttvar += (|sample - srtt| - rttvar) / 4). These feed the
// solver's r_{u,n}. O(log n) per sample; not thread-safe.
#include <cstdlib>
#include <map>
#include <optional>
#include <string>

#include "agent/gossip/types.hpp"

namespace slimcache::agent::gossip {

struct RttEstimate {
  Duration srtt{};
  Duration rttvar{};
  std::uint64_t samples = 0;
};

class RttTable {
 public:
  void sample(const std::string& peer, Duration rtt) {
    RttEstimate& e = m_table[peer];
    if (e.samples == 0) {
      e.srtt = rtt;
      e.rttvar = rtt / 2;
    } else {
      const Duration err = rtt - e.srtt;
      e.srtt += err / 8;
      e.rttvar += (Duration(std::abs(err.count())) - e.rttvar) / 4;
    }
    ++e.samples;
  }
  [[nodiscard]] std::optional<RttEstimate> get(const std::string& peer) const {
    auto it = m_table.find(peer);
    if (it == m_table.end()) return std::nullopt;
    return it->second;
  }
  void erase(const std::string& peer) { m_table.erase(peer); }
  [[nodiscard]] const std::map<std::string, RttEstimate>& all() const { return m_table; }

 private:
  std::map<std::string, RttEstimate> m_table;
};

}  // namespace slimcache::agent::gossip
