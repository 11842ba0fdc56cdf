#pragma once
// Transmit-limited broadcast queue (memberlist queue.go): messages waiting to be piggybacked
// on outgoing datagrams. Each is sent up to retransmit_mult * ceil(log10(n + 1)) times; the
// least-transmitted (then newest) go first; a new message with the same key (for example
// the node a membership message is about) replaces the old one. Bounded: beyond max_size
// the most-transmitted are dropped. take() is O(q log q) worst case; not thread-safe.
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "agent/gossip/types.hpp"

namespace slimcache::agent::gossip {

class BroadcastQueue {
 public:
  explicit BroadcastQueue(std::size_t max_size) : m_max(max_size) {}
  // Queues a framed message. An empty key never replaces anything.
  void push(std::string key, Bytes framed);
  // Framed messages whose total size is at most `budget` bytes. Counts one transmission
  // each and drops those that reached the limit for a cluster of `members` nodes.
  [[nodiscard]] std::vector<Bytes> take(std::size_t budget, std::size_t members, int retransmit_mult);
  [[nodiscard]] std::size_t size() const { return m_items.size(); }
  [[nodiscard]] std::uint64_t pushed() const { return m_next_id - 1; }  // total ever pushed
  static int retransmit_limit(int mult, std::size_t members);

 private:
  struct Item {
    int transmits = 0;
    std::uint64_t id = 0;
    std::string key;
    Bytes bytes;
  };
  struct Order {
    bool operator()(const Item* a, const Item* b) const {
      if (a->transmits != b->transmits) return a->transmits < b->transmits;
      return a->id > b->id;
    }
  };
  void erase(std::uint64_t id);
  std::size_t m_max;
  std::uint64_t m_next_id = 1;
  std::map<std::uint64_t, Item> m_items;
  std::set<Item*, Order> m_order;
  std::map<std::string, std::uint64_t> m_by_key;
};

}  // namespace slimcache::agent::gossip
