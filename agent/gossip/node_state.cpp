#include "agent/gossip/node_state.hpp"

#include <algorithm>

namespace slimcache::agent::gossip {

StateStore::StateStore(std::string self, std::size_t chunk_size, std::uint64_t first_version)
    : m_self(std::move(self)), m_chunk_size(std::max<std::size_t>(chunk_size, 16)) {
  add_owner(m_self);
  if (first_version > 0) set_watermark(*find(m_self), first_version);
}

std::uint64_t StateStore::mix(std::uint64_t id, std::uint64_t w) {
  if (w == 0) return 0;
  std::uint64_t z = id ^ (w * 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

StateStore::Owner* StateStore::find(const std::string& name) {
  auto it = m_ids.find(name);
  return it == m_ids.end() ? nullptr : &m_owners.at(it->second);
}
const StateStore::Owner* StateStore::find(const std::string& name) const {
  auto it = m_ids.find(name);
  return it == m_ids.end() ? nullptr : &m_owners.at(it->second);
}

void StateStore::update_wanted(const Owner& o) {
  if (o.active && o.head > o.watermark && o.name != m_self) m_wanted.insert(o.id);
  else m_wanted.erase(o.id);
}

void StateStore::set_watermark(Owner& o, std::uint64_t w) {
  if (o.active) m_summary ^= mix(o.id, o.watermark) ^ mix(o.id, w);
  o.watermark = w;
  o.head = std::max(o.head, w);
  update_wanted(o);
}

void StateStore::set_owner_active(Owner& o, bool active) {
  if (o.active == active) return;
  m_summary ^= mix(o.id, o.watermark);
  o.active = active;
  update_wanted(o);
}

void StateStore::add_owner(const std::string& name) {
  if (m_ids.count(name) != 0) return;
  const std::uint64_t id = owner_id(name);
  if (m_owners.count(id) != 0) return;  // 64-bit collision: the second name gets no state
  Owner& o = m_owners[id];
  o.name = name;
  o.id = id;
  m_ids[name] = id;
}

void StateStore::set_active(const std::string& name, bool active) {
  if (Owner* o = find(name)) set_owner_active(*o, active);
}

void StateStore::remove_owner(const std::string& name) {
  Owner* o = find(name);
  if (o == nullptr || name == m_self) return;
  set_owner_active(*o, false);
  for (auto& [k, ks] : o->keys) {
    m_bytes -= ks.value.size();
    for (auto& [i, c] : ks.chunks) m_bytes -= c.bytes.size();
  }
  const std::uint64_t id = o->id;
  m_wanted.erase(id);
  m_ids.erase(name);
  m_owners.erase(id);
}

bool StateStore::has_owner(const std::string& name) const { return find(name) != nullptr; }

std::uint64_t StateStore::watermark(const std::string& owner) const {
  const Owner* o = find(owner);
  return o == nullptr ? 0 : o->watermark;
}

std::string StateStore::owner_name(std::uint64_t id) const {
  auto it = m_owners.find(id);
  return it == m_owners.end() ? std::string{} : it->second.name;
}

void StateStore::drop_chunk(Owner& o, KeyState& ks, std::uint16_t idx) {
  auto it = ks.chunks.find(idx);
  if (it == ks.chunks.end()) return;
  o.by_version.erase(it->second.version);
  m_bytes -= it->second.bytes.size();
  ks.chunks.erase(it);
}

StateDelta StateStore::set_local(const std::string& key, std::span<const std::uint8_t> value) {
  Owner& o = *find(m_self);
  KeyState& ks = o.keys[key];
  while (!ks.chunks.empty()) drop_chunk(o, ks, ks.chunks.begin()->first);
  const std::size_t n = std::max<std::size_t>(1, (value.size() + m_chunk_size - 1) / m_chunk_size);
  StateDelta d;
  d.owner = m_self;
  d.from_version = o.watermark;
  const std::uint64_t gen = o.watermark + 1;
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t lo = i * m_chunk_size;
    const std::size_t hi = std::min(value.size(), lo + m_chunk_size);
    Chunk c;
    c.version = gen + i;
    c.generation = gen;
    c.chunks = static_cast<std::uint16_t>(n);
    c.bytes.assign(value.begin() + static_cast<std::ptrdiff_t>(lo), value.begin() + static_cast<std::ptrdiff_t>(hi));
    m_bytes += c.bytes.size();
    o.by_version[c.version] = {key, static_cast<std::uint16_t>(i)};
    d.entries.push_back(StateEntry{key, c.version, gen, static_cast<std::uint16_t>(i), c.chunks, c.bytes});
    ks.chunks[static_cast<std::uint16_t>(i)] = std::move(c);
  }
  m_bytes -= ks.value.size();
  ks.value.assign(value.begin(), value.end());
  m_bytes += ks.value.size();
  ks.newest_generation = ks.published_generation = gen;
  set_watermark(o, gen + n - 1);
  d.to_version = o.watermark;
  return d;
}

std::optional<Bytes> StateStore::get(const std::string& owner, const std::string& key) const {
  const Owner* o = find(owner);
  if (o == nullptr) return std::nullopt;
  auto it = o->keys.find(key);
  if (it == o->keys.end() || it->second.published_generation == 0) return std::nullopt;
  return it->second.value;
}

std::uint64_t StateStore::value_version(const std::string& owner, const std::string& key) const {
  const Owner* o = find(owner);
  if (o == nullptr) return 0;
  auto it = o->keys.find(key);
  return it == o->keys.end() ? 0 : it->second.published_generation;
}

std::vector<std::string> StateStore::keys(const std::string& owner) const {
  std::vector<std::string> out;
  if (const Owner* o = find(owner))
    for (const auto& [k, ks] : o->keys)
      if (ks.published_generation != 0) out.push_back(k);
  return out;
}

void StateStore::note_head(const std::string& owner, std::uint64_t version) {
  if (Owner* o = find(owner); o != nullptr && owner != m_self) {
    o->head = std::max(o->head, version);
    update_wanted(*o);
  }
}

bool StateStore::wants_anything() const { return !m_wanted.empty(); }

std::vector<DigestEntry> StateStore::digest_page(std::size_t max_entries) {
  std::vector<DigestEntry> out;
  if (m_owners.empty() || max_entries == 0) return out;
  // Wanted owners first, starting after the last one served.
  auto start = m_owners.upper_bound(m_wanted_cursor);
  for (std::size_t pass = 0; pass < 2 && out.size() < max_entries / 2; ++pass) {
    auto begin = pass == 0 ? start : m_owners.begin();
    auto end = pass == 0 ? m_owners.end() : start;
    for (auto it = begin; it != end && out.size() < max_entries / 2; ++it) {
      const Owner& o = it->second;
      if (o.active && o.head > o.watermark) {
        out.push_back({o.id, o.watermark});
        m_wanted_cursor = o.id;
      }
    }
  }
  // Then everybody, round-robin.
  const std::size_t wanted = out.size();
  auto it = m_owners.upper_bound(m_page_cursor);
  for (std::size_t seen = 0; seen < m_owners.size() && out.size() < max_entries; ++seen) {
    if (it == m_owners.end()) it = m_owners.begin();
    const Owner& o = it->second;
    m_page_cursor = o.id;
    const bool dup = std::any_of(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(wanted),
                                 [&](const DigestEntry& e) { return e.owner_id == o.id; });
    if (o.active && !dup) out.push_back({o.id, o.watermark});
    ++it;
  }
  return out;
}

std::vector<DigestEntry> StateStore::digest_all() const {
  std::vector<DigestEntry> out;
  for (const auto& [id, o] : m_owners)
    if (o.active) out.push_back({id, o.watermark});
  return out;
}

std::vector<DigestEntry> StateStore::behind(const std::vector<DigestEntry>& peer) {
  std::vector<DigestEntry> out;
  for (const auto& e : peer) {
    auto it = m_owners.find(e.owner_id);
    if (it == m_owners.end() || !it->second.active || it->second.name == m_self) continue;
    Owner& o = it->second;
    if (e.version > o.watermark) {
      o.head = std::max(o.head, e.version);
      update_wanted(o);
      out.push_back({o.id, o.watermark});
    }
  }
  return out;
}

std::vector<StateDelta> StateStore::deltas_for(const std::vector<DigestEntry>& peer, std::size_t message_budget,
                                               std::size_t total_budget) {
  struct Cand {
    Owner* owner;
    std::uint64_t cursor;
  };
  std::vector<Cand> cands;
  for (const auto& e : peer) {
    auto it = m_owners.find(e.owner_id);
    if (it == m_owners.end() || !it->second.active) continue;
    if (it->second.watermark > e.version) cands.push_back({&it->second, e.version});
  }
  std::vector<StateDelta> out;
  if (cands.empty()) return out;
  std::rotate(cands.begin(), cands.begin() + static_cast<std::ptrdiff_t>(m_rotation++ % cands.size()), cands.end());
  bool progress = true;
  while (progress && total_budget > 0) {
    progress = false;
    for (auto& c : cands) {
      Owner& o = *c.owner;
      if (c.cursor >= o.watermark) continue;
      StateDelta d;
      d.owner = o.name;
      d.from_version = c.cursor;
      const std::size_t header = 1 + o.name.size() + 8 + 8 + 3;
      std::size_t size = framed_size(header);
      const std::size_t limit = std::min(message_budget, total_budget);
      auto it = o.by_version.upper_bound(c.cursor);
      std::uint64_t last = c.cursor;
      bool complete = true;
      for (; it != o.by_version.end() && it->first <= o.watermark; ++it) {
        const KeyState& ks = o.keys.at(it->second.first);
        const Chunk& ch = ks.chunks.at(it->second.second);
        StateEntry e{it->second.first, ch.version, ch.generation, it->second.second, ch.chunks, ch.bytes};
        const std::size_t es = encoded_size(e);
        if (size + es + 2 > limit) {
          complete = false;
          break;
        }
        size += es;
        last = ch.version;
        d.entries.push_back(std::move(e));
      }
      if (!complete && d.entries.empty()) continue;  // does not fit in what is left
      d.to_version = complete ? o.watermark : last;
      c.cursor = d.to_version;
      total_budget -= std::min(total_budget, size + 2);
      out.push_back(std::move(d));
      progress = true;
      if (total_budget == 0) break;
    }
  }
  return out;
}

std::size_t StateStore::apply(const StateDelta& delta, std::vector<Change>& changed) {
  if (delta.owner == m_self) return 0;
  Owner* op = find(delta.owner);
  if (op == nullptr) return 0;
  Owner& o = *op;
  std::size_t stored = 0;
  std::vector<std::string> touched;
  for (const auto& e : delta.entries) {
    if (e.version > delta.to_version || e.version <= delta.from_version) continue;  // outside its range
    KeyState& ks = o.keys[e.key];
    if (e.generation < ks.newest_generation) continue;  // superseded
    if (e.generation > ks.newest_generation) {
      std::vector<std::uint16_t> old;
      for (const auto& [i, c] : ks.chunks)
        if (c.generation < e.generation) old.push_back(i);
      for (auto i : old) drop_chunk(o, ks, i);
      ks.newest_generation = e.generation;
    }
    auto cit = ks.chunks.find(e.chunk);
    if (cit != ks.chunks.end() && cit->second.version >= e.version) continue;
    if (cit != ks.chunks.end()) drop_chunk(o, ks, e.chunk);
    Chunk c{e.version, e.generation, e.chunks, e.bytes};
    m_bytes += c.bytes.size();
    o.by_version[e.version] = {e.key, e.chunk};
    ks.chunks[e.chunk] = std::move(c);
    ++stored;
    touched.push_back(e.key);
  }
  std::sort(touched.begin(), touched.end());
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  for (const auto& key : touched) {
    KeyState& ks = o.keys[key];
    if (ks.newest_generation <= ks.published_generation || ks.chunks.empty()) continue;
    const std::uint16_t n = ks.chunks.begin()->second.chunks;
    if (ks.chunks.size() != n) continue;
    bool ok = true;
    for (std::uint16_t i = 0; i < n && ok; ++i) {
      auto it = ks.chunks.find(i);
      ok = it != ks.chunks.end() && it->second.generation == ks.newest_generation && it->second.chunks == n;
    }
    if (!ok) continue;
    m_bytes -= ks.value.size();
    ks.value.clear();
    for (const auto& [i, c] : ks.chunks) ks.value.insert(ks.value.end(), c.bytes.begin(), c.bytes.end());
    m_bytes += ks.value.size();
    ks.published_generation = ks.newest_generation;
    changed.push_back({o.name, key, ks.published_generation});
  }
  o.head = std::max(o.head, delta.to_version);
  if (delta.from_version <= o.watermark && delta.to_version > o.watermark) set_watermark(o, delta.to_version);
  update_wanted(o);
  return stored;
}

}  // namespace slimcache::agent::gossip
