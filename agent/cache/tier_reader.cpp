#include "agent/cache/tier_reader.hpp"

#include <unistd.h>

namespace slimcache::agent::cache {

namespace {
Unexpected<CacheError> incompatible(const std::string& name, const std::string& why) {
  return Unexpected(CacheError{CacheErrc::k_incompatible, "memory tier " + name + ": " + why});
}
}  // namespace

Expected<std::unique_ptr<TierReader>, CacheError> TierReader::open(const std::string& name, const platform::Clock& clock,
                                                                   std::chrono::seconds lease_ttl) {
  std::unique_ptr<TierReader> reader(new TierReader(clock, lease_ttl));
  auto data = platform::SharedMemory::open(name, platform::ShmAccess::k_read_only);
  if (!data) {
    return Unexpected(CacheError{data.error().code == platform::EnvErrc::k_not_found ? CacheErrc::k_not_found : CacheErrc::k_io,
                                 data.error().to_string()});
  }
  auto leases = platform::SharedMemory::open(name + ".leases", platform::ShmAccess::k_read_write);
  if (!leases) return Unexpected(CacheError{CacheErrc::k_io, leases.error().to_string()});
  reader->m_data = std::move(*data);
  reader->m_leases = std::move(*leases);
  if (reader->m_data.size() < sizeof(shm::SegmentHeader) || reader->m_leases.size() < sizeof(shm::LeaseHeader))
    return incompatible(name, "segment too small");
  const auto* h = reinterpret_cast<const shm::SegmentHeader*>(reader->m_data.data());
  const auto* lh = reinterpret_cast<const shm::LeaseHeader*>(reader->m_leases.data());
  if (h->ready.load(std::memory_order_acquire) != 1) return incompatible(name, "not initialised yet");
  if (h->magic != shm::k_segment_magic || lh->magic != shm::k_lease_magic) return incompatible(name, "bad magic");
  if (h->layout_version != shm::k_shm_layout_version || lh->layout_version != shm::k_shm_layout_version)
    return incompatible(name, "layout version " + std::to_string(h->layout_version) + ", this reader knows " +
                                  std::to_string(shm::k_shm_layout_version));
  if (h->segment_size != reader->m_data.size() || lh->num_entries != h->num_layers * h->num_experts)
    return incompatible(name, "inconsistent sizes");
  reader->m_header = h;
  reader->m_directory = reinterpret_cast<const shm::DirectoryEntry*>(reader->m_data.data() + h->directory_offset);
  reader->m_pid = static_cast<std::int32_t>(::getpid());
  SLIM_TRY_VOID(reader->acquire_lease());
  return reader;
}

TierReader::~TierReader() { release_lease(); }

Expected<void, CacheError> TierReader::acquire_lease() {
  const auto* lh = reinterpret_cast<const shm::LeaseHeader*>(m_leases.data());
  auto* leases = reinterpret_cast<shm::Lease*>(m_leases.data() + lh->leases_offset);
  for (std::uint32_t i = 0; i < lh->max_leases; ++i) {
    std::int32_t expected = 0;
    if (leases[i].owner_pid.compare_exchange_strong(expected, m_pid)) {
      leases[i].expiry_unix.store(m_clock.unix_seconds() + m_ttl.count());
      m_lease = &leases[i];
      m_epoch = leases[i].epoch.load();
      m_pins = reinterpret_cast<std::atomic<std::uint32_t>*>(m_leases.data() + lh->pins_offset) +
               std::uint64_t{i} * lh->num_entries;
      return {};
    }
  }
  return Unexpected(CacheError{CacheErrc::k_busy, "memory tier: all " + std::to_string(lh->max_leases) + " reader leases are taken"});
}

void TierReader::release_lease() {
  if (m_lease == nullptr) return;
  if (m_lease->epoch.load() == m_epoch && m_lease->owner_pid.load() == m_pid) {
    const auto* lh = reinterpret_cast<const shm::LeaseHeader*>(m_leases.data());
    for (std::uint32_t i = 0; i < lh->num_entries; ++i) m_pins[i].store(0);
    m_lease->owner_pid.store(0);
  }
  m_lease = nullptr;
  m_pins = nullptr;
}

Expected<void, CacheError> TierReader::renew_lease() {
  if (m_lease != nullptr && m_lease->epoch.load() == m_epoch && m_lease->owner_pid.load() == m_pid) {
    m_lease->expiry_unix.store(m_clock.unix_seconds() + m_ttl.count());
    return {};
  }
  m_lease = nullptr;  // reclaimed by the daemon: its pins are gone
  return acquire_lease();
}

PinResult TierReader::try_pin(std::uint32_t layer, std::uint32_t expert, PinnedExpert& out) noexcept {
  if (layer >= m_header->num_layers || expert >= m_header->num_experts) return PinResult::k_not_resident;
  if (m_lease == nullptr) return PinResult::k_lease_lost;
  const std::uint32_t index = layer * m_header->num_experts + expert;
  const shm::DirectoryEntry& e = m_directory[index];
  // Bounded: a retry happens only when the daemon changed this entry meanwhile.
  for (int attempt = 0; attempt < 4; ++attempt) {
    const std::uint64_t version = e.version.load();
    if (e.state.load() != shm::k_resident) return PinResult::k_not_resident;
    m_pins[index].fetch_add(1);
    if (e.state.load() == shm::k_resident && e.version.load() == version) {
      if (m_lease->epoch.load(std::memory_order_relaxed) != m_epoch) {
        m_pins[index].fetch_sub(1);
        return PinResult::k_lease_lost;
      }
      out.data = m_data.data() + e.offset;
      out.size = e.size;
      out.index = index;
      return PinResult::k_pinned;
    }
    m_pins[index].fetch_sub(1);
  }
  return PinResult::k_not_resident;
}

void TierReader::unpin(const PinnedExpert& pinned) noexcept {
  // A reclaimed lease's counters were zeroed: never go below zero.
  std::uint32_t n = m_pins[pinned.index].load(std::memory_order_relaxed);
  while (n > 0 && !m_pins[pinned.index].compare_exchange_weak(n, n - 1, std::memory_order_release)) {
  }
}

Expected<PinnedExpert, CacheError> TierReader::pin(std::uint32_t layer, std::uint32_t expert) {
  PinnedExpert out;
  switch (try_pin(layer, expert, out)) {
    case PinResult::k_pinned: return out;
    case PinResult::k_lease_lost:
      return Unexpected(CacheError{CacheErrc::k_busy, "memory tier: this reader's lease expired; renew it"});
    case PinResult::k_not_resident: break;
  }
  return Unexpected(CacheError{CacheErrc::k_not_found, "expert (layer " + std::to_string(layer) + ", expert " +
                                                           std::to_string(expert) + ") is not resident"});
}

bool TierReader::is_resident(std::uint32_t layer, std::uint32_t expert) const {
  if (layer >= m_header->num_layers || expert >= m_header->num_experts) return false;
  return m_directory[layer * m_header->num_experts + expert].state.load() == shm::k_resident;
}

}  // namespace slimcache::agent::cache
