#include "agent/exec/tier_expert_source.hpp"

namespace slimcache::agent::exec {

TierExpertSource::TierExpertSource(std::string shm_name, const platform::Clock& clock, std::chrono::seconds lease_ttl,
                                   Load load, Unload unload)
    : m_shm_name(std::move(shm_name)), m_clock(clock), m_ttl(lease_ttl), m_load(std::move(load)), m_unload(std::move(unload)) {}

TierExpertSource::~TierExpertSource() = default;

bool TierExpertSource::ensure_open() const {
  if (m_reader) return true;
  auto reader = cache::TierReader::open(m_shm_name, m_clock, m_ttl);
  if (!reader) return false;
  m_reader = std::move(reader).value();
  m_renewed = m_clock.now();
  return true;
}

std::string TierExpertSource::model() const {
  std::lock_guard lock(m_mutex);
  return ensure_open() ? m_reader->model() : std::string();
}

std::uint32_t TierExpertSource::num_layers() const {
  std::lock_guard lock(m_mutex);
  return ensure_open() ? m_reader->num_layers() : 0;
}

std::uint32_t TierExpertSource::num_experts() const {
  std::lock_guard lock(m_mutex);
  return ensure_open() ? m_reader->num_experts() : 0;
}

cache::PinResult TierExpertSource::try_pin(std::uint32_t layer, std::uint32_t expert, cache::PinnedExpert& out) {
  if (m_clock.now() - m_renewed > m_ttl / 3) {
    if (m_reader->renew_lease()) m_renewed = m_clock.now();
  }
  auto result = m_reader->try_pin(layer, expert, out);
  if (result == cache::PinResult::k_lease_lost && m_reader->renew_lease()) {
    m_renewed = m_clock.now();
    result = m_reader->try_pin(layer, expert, out);
  }
  return result;
}

ExpertLease TierExpertSource::lease(const cache::PinnedExpert& pinned, ServedFrom served) {
  return ExpertLease(pinned.bytes(), served, [this, pinned] {
    std::lock_guard lock(m_mutex);
    if (m_reader) m_reader->unpin(pinned);
  });
}

Expected<ExpertLease, SourceError> TierExpertSource::acquire(std::uint32_t layer, std::uint32_t expert) {
  {
    std::lock_guard lock(m_mutex);
    if (!ensure_open()) return Unexpected(SourceError{ExpertStatus::k_not_found, "no memory tier (no model yet)"});
    cache::PinnedExpert pinned;
    if (try_pin(layer, expert, pinned) == cache::PinResult::k_pinned) return lease(pinned, ServedFrom::k_memory);
  }
  // A miss: the daemon loads it from its disk tier and pins it until we hold our own pin.
  if (auto loaded = m_load(layer, expert); !loaded) return Unexpected(loaded.error());
  cache::PinResult result = cache::PinResult::k_not_resident;
  cache::PinnedExpert pinned;
  {
    std::lock_guard lock(m_mutex);
    result = try_pin(layer, expert, pinned);
  }
  m_unload(layer, expert);
  if (result != cache::PinResult::k_pinned)
    return Unexpected(SourceError{ExpertStatus::k_failed, "loaded but not pinnable (lease lost?)"});
  return lease(pinned, ServedFrom::k_local_disk);
}

}  // namespace slimcache::agent::exec
