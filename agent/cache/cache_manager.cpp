#include "agent/cache/cache_manager.hpp"

#include <algorithm>

#include "agent/cache/paging_policies.hpp"

namespace slimcache::agent::cache {

// What the policy sees: the memory tier's residents; pinned = the current set, daemon pins,
// reader pins, and pages the tier refused to evict during this request.
class CacheManager::View final : public ResidentView {
 public:
  View(const CacheManager& m, std::span<const PageId> set) : m_manager(m), m_set(set) {}
  std::span<const PageId> resident() const override { return m_manager.m_resident; }
  bool is_resident(PageId p) const override {
    return std::find(m_manager.m_resident.begin(), m_manager.m_resident.end(), p) != m_manager.m_resident.end();
  }
  bool is_pinned(PageId p) const override {
    if (std::find(m_set.begin(), m_set.end(), p) != m_set.end()) return true;
    if (m_manager.m_pins.contains(p)) return true;
    if (std::find(refused.begin(), refused.end(), p) != refused.end()) return true;
    const std::uint32_t e = m_manager.m_options.num_experts;
    return m_manager.m_memory->pin_count(p / e, p % e) > 0;
  }
  std::vector<PageId> refused;

 private:
  const CacheManager& m_manager;
  std::span<const PageId> m_set;
};

Expected<std::unique_ptr<CacheManager>, CacheError> CacheManager::open(platform::Env& env, const platform::Clock& clock,
                                                                       const CacheManagerOptions& options) {
  std::unique_ptr<CacheManager> m(new CacheManager());
  m->m_options = options;
  SLIM_TRY(auto policy, make_policy(options.policy.empty() ? k_default_policy : std::string_view(options.policy), options.seed));
  m->m_policy = std::move(policy);
  SLIM_TRY(auto disk, DiskTier::open(env, {options.disk_root, options.disk_budget_bytes, options.verify_on_open}));
  m->m_disk = std::move(disk);
  SLIM_TRY(auto memory, MemoryTier::create({options.shm_name, options.model, options.num_layers, options.num_experts,
                                            options.memory_budget_bytes, options.slot_size, options.max_leases},
                                           clock));
  m->m_memory = std::move(memory);
  const PagingGeometry geometry{options.num_layers, options.num_experts, options.top_k};
  SLIM_TRY_VOID(m->m_policy->reset(geometry, m->m_memory->num_slots()));
  return m;
}

CacheManager::~CacheManager() = default;

Expected<BlobInfo, CacheError> CacheManager::store(std::uint32_t layer, std::uint32_t expert,
                                                   std::span<const std::byte> payload) {
  if (layer >= m_options.num_layers || expert >= m_options.num_experts)
    return Unexpected(CacheError{CacheErrc::k_invalid_argument, key(layer, expert).to_string() + " is outside the model"});
  if (payload.size() > m_memory->slot_size())
    return Unexpected(CacheError{CacheErrc::k_invalid_argument, key(layer, expert).to_string() + ": " +
                                                                    std::to_string(payload.size()) + " bytes exceed the slot size"});
  return m_disk->put(key(layer, expert), payload);
}

Expected<void, CacheError> CacheManager::store_many(std::span<const StoreItem> items) {
  std::vector<PutItem> puts;
  puts.reserve(items.size());
  for (const auto& item : items) {
    if (item.layer >= m_options.num_layers || item.expert >= m_options.num_experts)
      return Unexpected(CacheError{CacheErrc::k_invalid_argument, key(item.layer, item.expert).to_string() + " is outside the model"});
    if (item.payload.size() > m_memory->slot_size())
      return Unexpected(CacheError{CacheErrc::k_invalid_argument, key(item.layer, item.expert).to_string() + ": " +
                                                                      std::to_string(item.payload.size()) + " bytes exceed the slot size"});
    puts.push_back({key(item.layer, item.expert), item.payload});
  }
  SLIM_TRY_VOID(m_disk->put_many(puts));
  return {};
}

Expected<RequestReport, CacheError> CacheManager::request(std::uint32_t layer, std::span<const std::uint32_t> experts) {
  if (layer >= m_options.num_layers)
    return Unexpected(CacheError{CacheErrc::k_invalid_argument, "layer " + std::to_string(layer) + " is outside the model"});
  if (experts.size() > m_memory->num_slots())
    return Unexpected(CacheError{CacheErrc::k_invalid_argument, "a set of " + std::to_string(experts.size()) +
                                                                    " experts does not fit " + std::to_string(m_memory->num_slots()) + " slots"});
  std::vector<PageId> set;
  for (std::uint32_t e : experts) {
    if (e >= m_options.num_experts)
      return Unexpected(CacheError{CacheErrc::k_invalid_argument, key(layer, e).to_string() + " is outside the model"});
    set.push_back(page(layer, e));
  }
  if (layer == 0) ++m_tokens;
  const Step step{m_step++, m_tokens == 0 ? 0 : m_tokens - 1, layer, set};
  View view(*this, set);
  RequestReport report;
  // Hits first, then loads: the order the simulator uses, so both make the same decisions.
  std::vector<PageId> missing;
  for (PageId p : set) {
    if (m_memory->is_resident(layer, p % m_options.num_experts)) {
      m_policy->on_hit(p, step);
      ++report.hits;
      bump(m_counters.memory_hits);
    } else {
      missing.push_back(p);
    }
  }
  for (PageId p : missing) {
    const auto blob = m_disk->find(key(layer, p % m_options.num_experts));
    if (!blob) {
      bump(m_counters.misses);
      return Unexpected(CacheError{CacheErrc::k_not_found, key(layer, p % m_options.num_experts).to_string() + " is not on disk"});
    }
    SLIM_TRY(const std::size_t evicted, make_room(p, step, view));
    report.evictions += evicted;
    const ExpertKey k = key(layer, p % m_options.num_experts);
    SLIM_TRY_VOID(m_memory->load(layer, p % m_options.num_experts,
                                 [&](std::span<std::byte> slot) { return m_disk->read_into(k, slot); }));
    m_resident.push_back(p);
    m_policy->on_load(p, step);
    ++report.loads;
    bump(m_counters.disk_hits);
    bump(m_counters.disk_bytes_loaded, blob->payload_size);
  }
  m_last_set = std::move(set);
  m_last_step = Step{step.index, step.token, step.layer, m_last_set};
  m_have_last = true;
  return report;
}

Expected<std::size_t, CacheError> CacheManager::make_room(PageId incoming, const Step& step, View& view) {
  std::size_t evictions = 0;
  // Bounded by the number of resident pages.
  for (std::size_t round = 0; m_memory->free_slots() == 0 || m_policy->needs_room(incoming, m_resident.size()); ++round) {
    bool any = false;
    for (PageId r : m_resident) any |= !view.is_pinned(r);
    if (!any || round > m_resident.size())
      return Unexpected(CacheError{CacheErrc::k_pinned, "every resident expert is pinned: cannot load " +
                                                            key(incoming / m_options.num_experts, incoming % m_options.num_experts).to_string()});
    const PageId victim = m_policy->choose_victim(step, incoming, view);
    auto evicted = m_memory->evict(victim / m_options.num_experts, victim % m_options.num_experts);
    if (!evicted) {
      if (evicted.error().code != CacheErrc::k_pinned) return Unexpected(evicted.error());
      view.refused.push_back(victim);  // a reader pinned it meanwhile
      continue;
    }
    std::erase(m_resident, victim);
    m_policy->on_evict(victim);
    ++evictions;
    bump(m_counters.evictions);
  }
  return evictions;
}

Expected<std::size_t, CacheError> CacheManager::prefetch() {
  if (!m_have_last) return std::size_t{0};
  View view(*this, m_last_set);
  std::vector<PageId> ahead;
  m_policy->prefetch_after(m_last_step, view, ahead);
  std::size_t loaded = 0;
  for (PageId p : ahead) {
    const std::uint32_t layer = p / m_options.num_experts;
    const std::uint32_t expert = p % m_options.num_experts;
    if (layer >= m_options.num_layers || m_memory->is_resident(layer, expert)) continue;
    const auto blob = m_disk->find(key(layer, expert));
    if (!blob) continue;
    SLIM_TRY(const std::size_t evicted, make_room(p, m_last_step, view));
    (void)evicted;
    const ExpertKey k = key(layer, expert);
    SLIM_TRY_VOID(m_memory->load(layer, expert, [&](std::span<std::byte> slot) { return m_disk->read_into(k, slot); }));
    m_resident.push_back(p);
    m_policy->on_load(p, m_last_step);
    ++loaded;
    bump(m_counters.prefetch_loads);
    bump(m_counters.disk_bytes_loaded, blob->payload_size);
  }
  return loaded;
}

Expected<void, CacheError> CacheManager::evict(std::uint32_t layer, std::uint32_t expert) {
  const PageId p = page(layer, expert);
  if (m_pins.contains(p))
    return Unexpected(CacheError{CacheErrc::k_pinned, key(layer, expert).to_string() + " is pinned by the daemon"});
  SLIM_TRY_VOID(m_memory->evict(layer, expert));
  std::erase(m_resident, p);
  m_policy->on_evict(p);
  bump(m_counters.evictions);
  return {};
}

void CacheManager::pin(std::uint32_t layer, std::uint32_t expert) {
  m_pins.insert(page(layer, expert));
  bump(m_counters.pins);
  m_counters.pinned.store(m_pins.size(), std::memory_order_relaxed);
}

void CacheManager::unpin(std::uint32_t layer, std::uint32_t expert) {
  auto it = m_pins.find(page(layer, expert));
  if (it == m_pins.end()) return;
  m_pins.erase(it);
  bump(m_counters.unpins);
  m_counters.pinned.store(m_pins.size(), std::memory_order_relaxed);
}

void CacheManager::note_peer_fetch(std::uint64_t bytes) {
  bump(m_counters.peer_fetches);
  bump(m_counters.peer_bytes_loaded, bytes);
}

CacheCounters CacheManager::counters() const {
  const auto r = [](const std::atomic<std::uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  CacheCounters out;
  out.memory_hits = r(m_counters.memory_hits);
  out.disk_hits = r(m_counters.disk_hits);
  out.misses = r(m_counters.misses);
  out.prefetch_loads = r(m_counters.prefetch_loads);
  out.disk_bytes_loaded = r(m_counters.disk_bytes_loaded);
  out.peer_fetches = r(m_counters.peer_fetches);
  out.peer_bytes_loaded = r(m_counters.peer_bytes_loaded);
  out.evictions = r(m_counters.evictions);
  out.pins = r(m_counters.pins);
  out.unpins = r(m_counters.unpins);
  out.pinned = r(m_counters.pinned);
  return out;
}

Expected<void, CacheError> CacheManager::remove(std::uint32_t layer, std::uint32_t expert) {
  if (m_memory->is_resident(layer, expert)) SLIM_TRY_VOID(evict(layer, expert));
  return m_disk->remove(key(layer, expert));
}

Expected<void, CacheError> CacheManager::quarantine(std::uint32_t layer, std::uint32_t expert, const std::string& reason) {
  if (m_memory->is_resident(layer, expert)) SLIM_TRY_VOID(evict(layer, expert));
  return m_disk->quarantine(key(layer, expert), reason);
}

Inventory CacheManager::inventory() const {
  Inventory out;
  out.on_disk = m_disk->inventory();
  out.resident = m_memory->inventory();
  out.disk_used_bytes = m_disk->used_bytes();
  out.disk_budget_bytes = m_disk->budget_bytes();
  out.memory_slots = m_memory->num_slots();
  out.memory_free_slots = m_memory->free_slots();
  out.quarantined = m_disk->quarantined();
  return out;
}

}  // namespace slimcache::agent::cache
