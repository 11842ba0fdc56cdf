#include "agent/cache/memory_tier.hpp"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

namespace slimcache::agent::cache {

namespace {

std::uint64_t round_up(std::uint64_t v, std::uint64_t a) { return (v + a - 1) / a * a; }

Unexpected<CacheError> invalid(std::string msg) { return Unexpected(CacheError{CacheErrc::k_invalid_argument, std::move(msg)}); }

std::string where(std::uint32_t layer, std::uint32_t expert) {
  return "expert (layer " + std::to_string(layer) + ", expert " + std::to_string(expert) + ")";
}

}  // namespace

bool process_alive(std::int32_t pid) { return pid > 0 && (::kill(pid, 0) == 0 || errno != ESRCH); }

Expected<std::unique_ptr<MemoryTier>, CacheError> MemoryTier::create(const MemoryTierOptions& options,
                                                                     const platform::Clock& clock) {
  if (options.name.empty() || options.name.find('/') != std::string::npos) return invalid("memory tier: bad segment name");
  if (options.model.size() >= sizeof(shm::SegmentHeader::model_id)) return invalid("memory tier: model id too long");
  if (options.num_layers == 0 || options.num_experts == 0 || options.slot_size == 0 || options.max_leases == 0)
    return invalid("memory tier: layers, experts, slot size and leases must be positive");
  const std::uint64_t entries = std::uint64_t{options.num_layers} * options.num_experts;
  const std::uint64_t directory_offset = round_up(sizeof(shm::SegmentHeader), 64);
  const std::uint64_t slots_offset = round_up(directory_offset + entries * sizeof(shm::DirectoryEntry), shm::k_slot_alignment);
  const std::uint64_t slot_size = round_up(options.slot_size, shm::k_slot_alignment);
  if (options.budget_bytes < slots_offset + slot_size) {
    return invalid("memory tier: a budget of " + std::to_string(options.budget_bytes) +
                   " bytes holds no slot of " + std::to_string(slot_size) + " bytes after " +
                   std::to_string(slots_offset) + " bytes of directory");
  }
  const std::uint64_t slots = (options.budget_bytes - slots_offset) / slot_size;

  std::unique_ptr<MemoryTier> tier(new MemoryTier(options, clock));
  auto data = platform::SharedMemory::create(options.name, static_cast<std::size_t>(slots_offset + slots * slot_size),
                                             platform::ShmCreate::k_replace);
  if (!data) return Unexpected(CacheError{CacheErrc::k_io, data.error().to_string()});
  tier->m_data = std::move(*data);
  const std::uint64_t leases_offset = round_up(sizeof(shm::LeaseHeader), 64);
  const std::uint64_t pins_offset = round_up(leases_offset + options.max_leases * sizeof(shm::Lease), 64);
  auto leases = platform::SharedMemory::create(options.name + ".leases",
                                               static_cast<std::size_t>(pins_offset + options.max_leases * entries * 4),
                                               platform::ShmCreate::k_replace);
  if (!leases) {
    platform::SharedMemory::remove(options.name);
    return Unexpected(CacheError{CacheErrc::k_io, leases.error().to_string()});
  }
  tier->m_leases = std::move(*leases);

  // Fresh zero-filled memory: construct the objects in place.
  auto* lh = new (tier->m_leases.data()) shm::LeaseHeader{};
  lh->magic = shm::k_lease_magic;
  lh->layout_version = shm::k_shm_layout_version;
  lh->max_leases = options.max_leases;
  lh->num_entries = static_cast<std::uint32_t>(entries);
  lh->leases_offset = leases_offset;
  lh->pins_offset = pins_offset;
  for (std::uint32_t i = 0; i < options.max_leases; ++i) new (tier->m_leases.data() + leases_offset + i * sizeof(shm::Lease)) shm::Lease{};
  tier->m_lease_header = lh;

  for (std::uint64_t i = 0; i < entries; ++i)
    new (tier->m_data.data() + directory_offset + i * sizeof(shm::DirectoryEntry)) shm::DirectoryEntry{};
  auto* h = new (tier->m_data.data()) shm::SegmentHeader{};
  h->magic = shm::k_segment_magic;
  h->layout_version = shm::k_shm_layout_version;
  h->header_size = sizeof(shm::SegmentHeader);
  h->segment_size = tier->m_data.size();
  h->num_layers = options.num_layers;
  h->num_experts = options.num_experts;
  h->directory_offset = directory_offset;
  h->slots_offset = slots_offset;
  h->slot_size = slot_size;
  h->num_slots = static_cast<std::uint32_t>(slots);
  h->owner_pid = static_cast<std::uint32_t>(::getpid());
  h->model_id_size = static_cast<std::uint32_t>(options.model.size());
  std::memcpy(h->model_id, options.model.data(), options.model.size());
  h->ready.store(1, std::memory_order_release);
  tier->m_header = h;
  for (std::uint32_t s = static_cast<std::uint32_t>(slots); s-- > 0;) tier->m_free.push_back(s);
  return tier;
}

MemoryTier::~MemoryTier() {
  platform::SharedMemory::remove(m_options.name);
  platform::SharedMemory::remove(m_options.name + ".leases");
}

std::uint32_t MemoryTier::num_slots() const { return m_header->num_slots; }
std::uint64_t MemoryTier::slot_size() const { return m_header->slot_size; }

shm::DirectoryEntry* MemoryTier::entry(std::uint32_t layer, std::uint32_t expert) const {
  if (layer >= m_header->num_layers || expert >= m_header->num_experts) return nullptr;
  return reinterpret_cast<shm::DirectoryEntry*>(m_data.data() + m_header->directory_offset +
                                                (std::uint64_t{layer} * m_header->num_experts + expert) *
                                                    sizeof(shm::DirectoryEntry));
}

bool MemoryTier::lease_live(std::uint32_t lease) const {
  const auto* l = reinterpret_cast<const shm::Lease*>(m_leases.data() + m_lease_header->leases_offset) + lease;
  const std::int32_t pid = l->owner_pid.load();
  if (pid == 0) return false;
  return l->expiry_unix.load() >= m_clock.unix_seconds() && process_alive(pid);
}

void MemoryTier::reclaim(std::uint32_t lease) {
  auto* l = reinterpret_cast<shm::Lease*>(m_leases.data() + m_lease_header->leases_offset) + lease;
  auto* pins = reinterpret_cast<std::atomic<std::uint32_t>*>(m_leases.data() + m_lease_header->pins_offset) +
               std::uint64_t{lease} * m_lease_header->num_entries;
  l->epoch.fetch_add(1);  // the owner, if still running, sees it lost its lease
  for (std::uint32_t i = 0; i < m_lease_header->num_entries; ++i) pins[i].store(0);
  l->owner_pid.store(0);
}

std::uint32_t MemoryTier::live_pins(std::uint32_t index) const {
  const auto* pins = reinterpret_cast<const std::atomic<std::uint32_t>*>(m_leases.data() + m_lease_header->pins_offset);
  std::uint32_t total = 0;
  for (std::uint32_t lease = 0; lease < m_lease_header->max_leases; ++lease) {
    const std::uint32_t n = pins[std::uint64_t{lease} * m_lease_header->num_entries + index].load();
    if (n > 0 && lease_live(lease)) total += n;
  }
  return total;
}

std::size_t MemoryTier::reclaim_leases() {
  std::size_t reclaimed = 0;
  const auto* leases = reinterpret_cast<const shm::Lease*>(m_leases.data() + m_lease_header->leases_offset);
  for (std::uint32_t lease = 0; lease < m_lease_header->max_leases; ++lease) {
    if (leases[lease].owner_pid.load() != 0 && !lease_live(lease)) {
      reclaim(lease);
      ++reclaimed;
    }
  }
  return reclaimed;
}

Expected<void, CacheError> MemoryTier::load(std::uint32_t layer, std::uint32_t expert, const SlotFiller& fill) {
  shm::DirectoryEntry* e = entry(layer, expert);
  if (e == nullptr) return invalid(where(layer, expert) + " is outside the model");
  if (e->state.load() != shm::k_absent) return {};  // already resident
  if (m_free.empty())
    return Unexpected(CacheError{CacheErrc::k_no_free_slot, "memory tier full: evict before loading " + where(layer, expert)});
  const std::uint32_t slot = m_free.back();
  const std::uint64_t offset = m_header->slots_offset + std::uint64_t{slot} * m_header->slot_size;
  e->state.store(shm::k_loading);
  e->version.fetch_add(1);
  auto filled = fill(std::span(m_data.data() + offset, static_cast<std::size_t>(m_header->slot_size)));
  if (!filled || *filled > m_header->slot_size) {
    e->state.store(shm::k_absent);
    e->version.fetch_add(1);
    if (!filled) return Unexpected(filled.error());
    return invalid(where(layer, expert) + " is larger than a slot");
  }
  m_free.pop_back();
  e->slot = slot;
  e->offset = offset;
  e->size = *filled;
  e->state.store(shm::k_resident, std::memory_order_release);
  e->version.fetch_add(1);
  m_header->generation.fetch_add(1);
  return {};
}

Expected<void, CacheError> MemoryTier::evict(std::uint32_t layer, std::uint32_t expert) {
  shm::DirectoryEntry* e = entry(layer, expert);
  if (e == nullptr) return invalid(where(layer, expert) + " is outside the model");
  if (e->state.load() != shm::k_resident)
    return Unexpected(CacheError{CacheErrc::k_not_found, where(layer, expert) + " is not resident"});
  e->state.store(shm::k_evicting);
  e->version.fetch_add(1);
  const std::uint32_t index = layer * m_header->num_experts + expert;
  if (live_pins(index) > 0) {
    e->state.store(shm::k_resident);
    e->version.fetch_add(1);
    return Unexpected(CacheError{CacheErrc::k_pinned, where(layer, expert) + " is pinned by a reader"});
  }
  // Pins left by dead or expired leases are void: drop those leases now.
  reclaim_leases();
  m_free.push_back(e->slot);
  e->state.store(shm::k_absent);
  e->version.fetch_add(1);
  m_header->generation.fetch_add(1);
  return {};
}

bool MemoryTier::is_resident(std::uint32_t layer, std::uint32_t expert) const {
  const shm::DirectoryEntry* e = entry(layer, expert);
  return e != nullptr && e->state.load() == shm::k_resident;
}

std::uint32_t MemoryTier::pin_count(std::uint32_t layer, std::uint32_t expert) const {
  if (entry(layer, expert) == nullptr) return 0;
  return live_pins(layer * m_header->num_experts + expert);
}

std::vector<ResidentExpert> MemoryTier::inventory() const {
  std::vector<ResidentExpert> out;
  for (std::uint32_t l = 0; l < m_header->num_layers; ++l) {
    for (std::uint32_t x = 0; x < m_header->num_experts; ++x) {
      const shm::DirectoryEntry* e = entry(l, x);
      if (e->state.load() == shm::k_resident) out.push_back({l, x, e->size, pin_count(l, x)});
    }
  }
  return out;
}

}  // namespace slimcache::agent::cache
