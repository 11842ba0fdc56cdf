#pragma once
// The memory tier, daemon side: a shared-memory segment sized to the memory budget holding
// the resident experts in fixed-size slots, and a directory (layer, expert) -> offset, size,
// state that local processes read without talking to the daemon (layout and protocol:
// shm_layout.hpp; reader side: tier_reader.hpp).
//
// Success/failure: every call returns CacheError codes: k_no_free_slot (evict first),
// k_pinned (a live reader holds it), k_not_found, k_invalid_argument (payload larger than a
// slot, bad layer/expert), k_io (shared memory could not be created).
// Leases: a reader's pins count until its owner process dies or its lease expires (by the
// injected clock); evict() reclaims such leases before refusing, and reclaim_leases() does it
// for all. Threads: one writer thread (the daemon's cache strand); any number of reader
// processes. The segment names are removed when the MemoryTier is destroyed; readers that
// mapped them keep their mappings.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/cache/cache_error.hpp"
#include "agent/cache/shm_layout.hpp"
#include "platform/clock.hpp"
#include "platform/shared_memory.hpp"

namespace slimcache::agent::cache {

struct MemoryTierOptions {
  std::string name;                // shared-memory name, e.g. "slimcache-olmoe"
  std::string model;               // model id, at most 63 bytes
  std::uint32_t num_layers = 0;
  std::uint32_t num_experts = 0;   // per layer
  std::uint64_t budget_bytes = 0;  // the data segment's size (header + directory + slots)
  std::uint64_t slot_size = 0;     // bytes per expert slot (rounded up to 4096)
  std::uint32_t max_leases = 64;
};

struct ResidentExpert {
  std::uint32_t layer = 0;
  std::uint32_t expert = 0;
  std::uint64_t size = 0;
  std::uint32_t pins = 0;
};

// Writes an expert's payload into `slot` and returns its size (<= slot.size()).
using SlotFiller = std::function<Expected<std::size_t, CacheError>(std::span<std::byte> slot)>;

class MemoryTier {
 public:
  [[nodiscard]] static Expected<std::unique_ptr<MemoryTier>, CacheError> create(const MemoryTierOptions& options,
                                                                                const platform::Clock& clock);
  ~MemoryTier();
  MemoryTier(const MemoryTier&) = delete;
  MemoryTier& operator=(const MemoryTier&) = delete;

  // Loads into a free slot; the expert becomes visible to readers only once complete.
  // A failing filler leaves the expert absent and the slot free.
  [[nodiscard]] Expected<void, CacheError> load(std::uint32_t layer, std::uint32_t expert, const SlotFiller& fill);
  [[nodiscard]] Expected<void, CacheError> evict(std::uint32_t layer, std::uint32_t expert);
  [[nodiscard]] bool is_resident(std::uint32_t layer, std::uint32_t expert) const;
  // Pins of live leases (dead or expired ones are not counted).
  [[nodiscard]] std::uint32_t pin_count(std::uint32_t layer, std::uint32_t expert) const;
  [[nodiscard]] std::vector<ResidentExpert> inventory() const;
  // Frees the leases (and pins) of dead or expired readers; returns how many.
  std::size_t reclaim_leases();

  [[nodiscard]] std::uint32_t num_slots() const;
  [[nodiscard]] std::uint32_t free_slots() const { return static_cast<std::uint32_t>(m_free.size()); }
  [[nodiscard]] std::uint64_t slot_size() const;
  [[nodiscard]] const std::string& name() const { return m_options.name; }

 private:
  MemoryTier(MemoryTierOptions options, const platform::Clock& clock) : m_options(std::move(options)), m_clock(clock) {}
  [[nodiscard]] shm::DirectoryEntry* entry(std::uint32_t layer, std::uint32_t expert) const;
  [[nodiscard]] bool lease_live(std::uint32_t lease) const;
  void reclaim(std::uint32_t lease);
  [[nodiscard]] std::uint32_t live_pins(std::uint32_t index) const;

  MemoryTierOptions m_options;
  const platform::Clock& m_clock;
  platform::SharedMemory m_data;
  platform::SharedMemory m_leases;
  shm::SegmentHeader* m_header = nullptr;
  shm::LeaseHeader* m_lease_header = nullptr;
  std::vector<std::uint32_t> m_free;  // free slot numbers
};

// True when a process with this pid exists (kill(pid, 0) is not ESRCH).
[[nodiscard]] bool process_alive(std::int32_t pid);

}  // namespace slimcache::agent::cache
