#pragma once
// The memory tier, reader side (the local inference engine): maps the data segment read-only
// and finds an expert without talking to the daemon. A pinned expert's bytes stay valid and
// unchanged until unpin(); the daemon never evicts it while this reader's lease is live.
//
// Leases: open() takes a lease slot (owner = this pid) valid for `lease_ttl` by the injected
// clock; call renew_lease() well within that. If the process dies its pins are reclaimed; if
// the lease expires the daemon may reclaim it, after which try_pin() fails until
// renew_lease() takes a new one.
// Threads: a TierReader is used by one thread at a time (one lease per thread is the
// intended use). try_pin()/unpin() never allocate and never block: a few atomic operations.
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "agent/cache/cache_error.hpp"
#include "agent/cache/shm_layout.hpp"
#include "platform/clock.hpp"
#include "platform/shared_memory.hpp"

namespace slimcache::agent::cache {

struct PinnedExpert {
  const std::byte* data = nullptr;
  std::uint64_t size = 0;
  std::uint32_t index = 0;  // directory index, for unpin
  [[nodiscard]] std::span<const std::byte> bytes() const { return {data, static_cast<std::size_t>(size)}; }
};

enum class PinResult { k_pinned, k_not_resident, k_lease_lost };

class TierReader {
 public:
  [[nodiscard]] static Expected<std::unique_ptr<TierReader>, CacheError> open(const std::string& name,
                                                                              const platform::Clock& clock,
                                                                              std::chrono::seconds lease_ttl);
  ~TierReader();  // releases the lease and its pins
  TierReader(const TierReader&) = delete;
  TierReader& operator=(const TierReader&) = delete;

  // Hot path: no allocation. On k_pinned, `out` holds the expert until unpin(out).
  [[nodiscard]] PinResult try_pin(std::uint32_t layer, std::uint32_t expert, PinnedExpert& out) noexcept;
  void unpin(const PinnedExpert& pinned) noexcept;
  // With a message on failure.
  [[nodiscard]] Expected<PinnedExpert, CacheError> pin(std::uint32_t layer, std::uint32_t expert);

  // Extends the lease, or takes a new one if it was reclaimed.
  [[nodiscard]] Expected<void, CacheError> renew_lease();

  [[nodiscard]] std::uint32_t num_layers() const { return m_header->num_layers; }
  [[nodiscard]] std::uint32_t num_experts() const { return m_header->num_experts; }
  [[nodiscard]] std::string model() const { return {m_header->model_id, m_header->model_id_size}; }
  [[nodiscard]] std::uint64_t generation() const { return m_header->generation.load(); }
  [[nodiscard]] bool is_resident(std::uint32_t layer, std::uint32_t expert) const;

 private:
  TierReader(const platform::Clock& clock, std::chrono::seconds ttl) : m_clock(clock), m_ttl(ttl) {}
  [[nodiscard]] Expected<void, CacheError> acquire_lease();
  void release_lease();

  const platform::Clock& m_clock;
  std::chrono::seconds m_ttl;
  platform::SharedMemory m_data;
  platform::SharedMemory m_leases;
  const shm::SegmentHeader* m_header = nullptr;
  const shm::DirectoryEntry* m_directory = nullptr;
  shm::Lease* m_lease = nullptr;
  std::atomic<std::uint32_t>* m_pins = nullptr;  // this lease's row
  std::uint64_t m_epoch = 0;
  std::int32_t m_pid = 0;
};

}  // namespace slimcache::agent::cache
