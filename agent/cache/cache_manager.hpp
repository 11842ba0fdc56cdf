#pragma once
// The expert cache as the daemon uses it: the disk tier (blobs), the memory tier (shared
// memory read by local engines) and a paging policy deciding what stays in memory.
//
//   open()         opens the disk tier (index rebuilt and verified, failures quarantined and
//                  listed in startup_report()) and creates the memory tier segment
//   store()        writes an expert to disk (atomic, SHA-256 identity)
//   request()      makes one layer's top-K set resident, loading missing experts from disk
//                  (XXH3-verified) and evicting the policy's victims; the set is pinned while
//                  it is served, and experts pinned by readers or by pin() are never evicted
//   prefetch()     loads what the policy expects next (e.g. slim's likely next-layer experts);
//                  call it after the engine has the set, off its critical path
//   evict(), pin(), unpin(), remove(), quarantine(), inventory(), reclaim_leases()
//   counters()     hits and misses per tier, bytes loaded, pins, evictions since open()
//
// Failure: CacheError codes (k_not_found when an expert is not on disk, k_corrupt when its blob
// failed verification and was quarantined, k_pinned when everything evictable is pinned).
// Threads: not thread-safe; the daemon calls it from its cache strand. Readers in other
// processes use TierReader concurrently.
#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "agent/cache/disk_tier.hpp"
#include "agent/cache/memory_tier.hpp"
#include "agent/cache/paging_policy.hpp"

namespace slimcache::agent::cache {

struct CacheManagerOptions {
  std::string model;
  std::uint32_t num_layers = 0;
  std::uint32_t num_experts = 0;
  std::uint32_t top_k = 0;
  std::string disk_root;
  std::uint64_t disk_budget_bytes = 0;
  VerifyMode verify_on_open = VerifyMode::k_fast;
  std::string shm_name;
  std::uint64_t memory_budget_bytes = 0;
  std::uint64_t slot_size = 0;  // largest expert payload
  std::uint32_t max_leases = 64;
  std::string policy;  // empty: the default policy
  std::uint64_t seed = 1;
};

struct RequestReport {
  std::size_t hits = 0;
  std::size_t loads = 0;
  std::size_t evictions = 0;
};

// Counts since open(), for metrics. A requested expert is a memory hit (resident), a disk hit
// (loaded from the disk tier) or a miss (on neither tier: it has to come from a peer).
// Prefetch loads count in disk_bytes_loaded and prefetch_loads, not as hits.
struct CacheCounters {
  std::uint64_t memory_hits = 0;
  std::uint64_t disk_hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t prefetch_loads = 0;
  std::uint64_t disk_bytes_loaded = 0;  // disk tier -> memory tier (requests and prefetch)
  std::uint64_t peer_fetches = 0;       // experts stored after a peer sent them (note_peer_fetch)
  std::uint64_t peer_bytes_loaded = 0;
  std::uint64_t evictions = 0;          // by the policy and by evict()/remove()/quarantine()
  std::uint64_t pins = 0;               // pin() calls
  std::uint64_t unpins = 0;             // unpin() calls that released a pin
  std::uint64_t pinned = 0;             // daemon pins held now
};

struct Inventory {
  std::vector<BlobInfo> on_disk;
  std::vector<ResidentExpert> resident;
  std::uint64_t disk_used_bytes = 0;
  std::uint64_t disk_budget_bytes = 0;
  std::uint32_t memory_slots = 0;
  std::uint32_t memory_free_slots = 0;
  std::vector<QuarantineRecord> quarantined;
};

class CacheManager {
 public:
  [[nodiscard]] static Expected<std::unique_ptr<CacheManager>, CacheError> open(platform::Env& env,
                                                                                const platform::Clock& clock,
                                                                                const CacheManagerOptions& options);
  ~CacheManager();
  CacheManager(const CacheManager&) = delete;
  CacheManager& operator=(const CacheManager&) = delete;

  [[nodiscard]] const DiskOpenReport& startup_report() const { return m_disk->open_report(); }
  [[nodiscard]] Expected<BlobInfo, CacheError> store(std::uint32_t layer, std::uint32_t expert,
                                                     std::span<const std::byte> payload);
  // Several experts with one durability pass (DiskTier::put_many): all or nothing.
  struct StoreItem {
    std::uint32_t layer = 0;
    std::uint32_t expert = 0;
    std::span<const std::byte> payload;
  };
  [[nodiscard]] Expected<void, CacheError> store_many(std::span<const StoreItem> items);
  [[nodiscard]] Expected<RequestReport, CacheError> request(std::uint32_t layer, std::span<const std::uint32_t> experts);
  // After request(): loads the pages the policy wants ahead (the last set stays pinned).
  // Returns how many were loaded; experts missing from disk are skipped.
  [[nodiscard]] Expected<std::size_t, CacheError> prefetch();
  [[nodiscard]] Expected<void, CacheError> evict(std::uint32_t layer, std::uint32_t expert);
  // Daemon-side pins (e.g. an expert being sent to a peer): never evicted until unpinned.
  void pin(std::uint32_t layer, std::uint32_t expert);
  void unpin(std::uint32_t layer, std::uint32_t expert);
  // Drops the expert from memory (if resident and unpinned) and from disk.
  [[nodiscard]] Expected<void, CacheError> remove(std::uint32_t layer, std::uint32_t expert);
  [[nodiscard]] Expected<void, CacheError> quarantine(std::uint32_t layer, std::uint32_t expert, const std::string& reason);
  [[nodiscard]] Inventory inventory() const;
  // One disk record without copying the whole inventory (the transfer server asks per request).
  [[nodiscard]] std::optional<BlobInfo> find_on_disk(const ExpertKey& key) const { return m_disk->find(key); }
  [[nodiscard]] std::optional<BlobInfo> find_on_disk_by_sha256(const Sha256& digest) const {
    return m_disk->find_by_sha256(digest);
  }
  void for_each_on_disk(const std::function<void(const BlobInfo&)>& fn) const { m_disk->for_each(fn); }
  [[nodiscard]] std::uint64_t disk_used_bytes() const { return m_disk->used_bytes(); }
  [[nodiscard]] std::uint64_t disk_budget_bytes() const { return m_disk->budget_bytes(); }
  std::size_t reclaim_leases() { return m_memory->reclaim_leases(); }
  [[nodiscard]] const MemoryTier& memory_tier() const { return *m_memory; }
  // A peer sent this many payload bytes for one expert (called by whoever stores them).
  void note_peer_fetch(std::uint64_t bytes);
  // A snapshot of the counters; lock-free (relaxed atomics), callable from any thread while
  // the cache strand updates them.
  [[nodiscard]] CacheCounters counters() const;

 private:
  CacheManager() = default;
  class View;
  [[nodiscard]] ExpertKey key(std::uint32_t layer, std::uint32_t expert) const {
    return {m_options.model, layer, expert};
  }
  [[nodiscard]] PageId page(std::uint32_t layer, std::uint32_t expert) const {
    return layer * m_options.num_experts + expert;
  }

  CacheManagerOptions m_options;
  std::unique_ptr<DiskTier> m_disk;
  std::unique_ptr<MemoryTier> m_memory;
  std::unique_ptr<PagingPolicy> m_policy;
  std::vector<PageId> m_resident;  // what the policy believes is resident
  std::multiset<PageId> m_pins;
  [[nodiscard]] Expected<std::size_t, CacheError> make_room(PageId incoming, const Step& step, View& view);
  std::vector<PageId> m_last_set;
  Step m_last_step;
  bool m_have_last = false;
  std::size_t m_step = 0;
  std::size_t m_tokens = 0;
  // Written by the cache strand only, read by counters() from any thread.
  struct AtomicCounters {
    std::atomic<std::uint64_t> memory_hits{0}, disk_hits{0}, misses{0}, prefetch_loads{0}, disk_bytes_loaded{0},
        peer_fetches{0}, peer_bytes_loaded{0}, evictions{0}, pins{0}, unpins{0}, pinned{0};
  };
  AtomicCounters m_counters;
  static void bump(std::atomic<std::uint64_t>& c, std::uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

}  // namespace slimcache::agent::cache
