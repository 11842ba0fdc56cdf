#pragma once
// Versioned key/value state of every node, reconciled Scuttlebutt-style (van Renesse et al.,
// "Efficient Reconciliation and Flow Control for Anti-Entropy Protocols", 2008).
//
// Each owner numbers its writes with one counter. A value larger than chunk_size is split
// into chunks, each a versioned entry of the same generation (the version of its first
// chunk); readers see a value only once every chunk of its newest generation is present.
// Per owner a replica keeps a watermark: it holds every current entry with version <=
// watermark. A digest is (owner id, watermark) per owner; the deltas for a digest are, per
// owner, the entries above the peer's watermark in ascending version order, cut into
// messages of at most message_budget bytes and served round-robin across owners from a
// rotating start so that no owner starves. A delta (from, to] advances the receiver's
// watermark only if from <= watermark, so a lost datagram never leaves a hole.
//
// summary() is an XOR of hashes of (owner, watermark) over active owners: equal summaries
// mean (with high probability) nothing to exchange. Complexity: apply O(e log n) for e
// entries; deltas_for O(d + e log n). Not thread-safe; owned by one GossipNode.
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "agent/gossip/wire.hpp"

namespace slimcache::agent::gossip {

class StateStore {
 public:
  struct Change {
    std::string owner;
    std::string key;
    std::uint64_t version = 0;
  };

  // `first_version`: this process's writes are numbered above it. A restarted node must
  // start above every version its previous process wrote, or peers that still hold those
  // values (they have not reaped it yet) take the new ones for old and ignore them.
  StateStore(std::string self, std::size_t chunk_size, std::uint64_t first_version = 0);

  // Writes a local value; returns the new entries as a delta (ascending versions).
  StateDelta set_local(const std::string& key, std::span<const std::uint8_t> value);
  [[nodiscard]] std::optional<Bytes> get(const std::string& owner, const std::string& key) const;
  [[nodiscard]] std::uint64_t value_version(const std::string& owner, const std::string& key) const;
  [[nodiscard]] std::vector<std::string> keys(const std::string& owner) const;

  // Owners are the members: active ones take part in digests and the summary.
  void add_owner(const std::string& name);
  void set_active(const std::string& name, bool active);
  void remove_owner(const std::string& name);
  [[nodiscard]] bool has_owner(const std::string& name) const;
  [[nodiscard]] std::uint64_t watermark(const std::string& owner) const;
  [[nodiscard]] std::uint64_t summary() const { return m_summary; }
  [[nodiscard]] std::string owner_name(std::uint64_t id) const;

  // Someone holds `version` of owner: makes the owner wanted until the watermark reaches it.
  void note_head(const std::string& owner, std::uint64_t version);
  [[nodiscard]] bool wants_anything() const;
  // Up to max_entries digest entries: wanted owners first, then a rotating cursor.
  [[nodiscard]] std::vector<DigestEntry> digest_page(std::size_t max_entries);
  [[nodiscard]] std::vector<DigestEntry> digest_all() const;
  // Deltas for what the peer (described by its digest) lacks, bounded as described above.
  [[nodiscard]] std::vector<StateDelta> deltas_for(const std::vector<DigestEntry>& peer,
                                                   std::size_t message_budget, std::size_t total_budget);
  // The entries of `peer` where the peer is ahead, carrying our watermark (so the peer can
  // answer with deltas); also notes those heads.
  [[nodiscard]] std::vector<DigestEntry> behind(const std::vector<DigestEntry>& peer);
  // Applies a delta from a peer; appends newly complete values to `changed`. Returns the
  // number of entries stored. Deltas about ourselves or unknown owners are ignored.
  std::size_t apply(const StateDelta& delta, std::vector<Change>& changed);
  [[nodiscard]] std::size_t bytes_stored() const { return m_bytes; }

 private:
  struct Chunk {
    std::uint64_t version = 0;
    std::uint64_t generation = 0;
    std::uint16_t chunks = 1;
    Bytes bytes;
  };
  struct KeyState {
    std::map<std::uint16_t, Chunk> chunks;
    std::uint64_t newest_generation = 0;
    std::uint64_t published_generation = 0;
    Bytes value;
  };
  struct Owner {
    std::string name;
    std::uint64_t id = 0;
    std::uint64_t watermark = 0;
    std::uint64_t head = 0;
    bool active = true;
    std::map<std::string, KeyState> keys;
    std::map<std::uint64_t, std::pair<std::string, std::uint16_t>> by_version;
  };
  Owner* find(const std::string& name);
  const Owner* find(const std::string& name) const;
  void set_watermark(Owner& o, std::uint64_t w);
  void set_owner_active(Owner& o, bool active);
  void update_wanted(const Owner& o);
  void drop_chunk(Owner& o, KeyState& ks, std::uint16_t idx);
  static std::uint64_t mix(std::uint64_t id, std::uint64_t w);

  std::string m_self;
  std::size_t m_chunk_size;
  std::map<std::uint64_t, Owner> m_owners;
  std::map<std::string, std::uint64_t> m_ids;
  std::set<std::uint64_t> m_wanted;  // active owners with head > watermark
  std::uint64_t m_summary = 0;
  std::uint64_t m_page_cursor = 0;
  std::uint64_t m_wanted_cursor = 0;
  std::size_t m_rotation = 0;
  std::size_t m_bytes = 0;
};

}  // namespace slimcache::agent::gossip
