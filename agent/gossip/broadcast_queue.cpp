#include "agent/gossip/broadcast_queue.hpp"

#include <cmath>

namespace slimcache::agent::gossip {

int BroadcastQueue::retransmit_limit(int mult, std::size_t members) {
  const double n = static_cast<double>(members) + 1.0;
  return mult * static_cast<int>(std::ceil(std::log10(n)));
}

void BroadcastQueue::erase(std::uint64_t id) {
  auto it = m_items.find(id);
  if (it == m_items.end()) return;
  m_order.erase(&it->second);
  if (!it->second.key.empty()) {
    auto k = m_by_key.find(it->second.key);
    if (k != m_by_key.end() && k->second == id) m_by_key.erase(k);
  }
  m_items.erase(it);
}

void BroadcastQueue::push(std::string key, Bytes framed) {
  if (!key.empty()) {
    auto k = m_by_key.find(key);
    if (k != m_by_key.end()) erase(k->second);
  }
  const std::uint64_t id = m_next_id++;
  Item& item = m_items[id];
  item.id = id;
  item.key = key;
  item.bytes = std::move(framed);
  m_order.insert(&item);
  if (!key.empty()) m_by_key[key] = id;
  while (m_items.size() > m_max) erase((*std::prev(m_order.end()))->id);
}

std::vector<Bytes> BroadcastQueue::take(std::size_t budget, std::size_t members, int retransmit_mult) {
  std::vector<Bytes> out;
  const int limit = retransmit_limit(retransmit_mult, members);
  std::vector<Item*> picked;
  int misfits = 0;
  for (Item* item : m_order) {
    if (budget < 8 || misfits > 16) break;  // bounded scan: the rest waits for the next packet
    if (item->bytes.size() > budget) {
      ++misfits;
      continue;
    }
    budget -= item->bytes.size();
    picked.push_back(item);
  }
  for (Item* item : picked) {
    out.push_back(item->bytes);
    m_order.erase(item);
    ++item->transmits;
    if (item->transmits >= limit) {
      const std::uint64_t id = item->id;
      if (!item->key.empty()) {
        auto k = m_by_key.find(item->key);
        if (k != m_by_key.end() && k->second == id) m_by_key.erase(k);
      }
      m_items.erase(id);
    } else {
      m_order.insert(item);
    }
  }
  return out;
}

}  // namespace slimcache::agent::gossip
