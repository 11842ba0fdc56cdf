#include "agent/cache/paging_simulator.hpp"

#include <algorithm>
#include <cmath>

namespace slimcache::agent::cache {

namespace {

class Resident final : public ResidentView {
 public:
  explicit Resident(std::size_t num_pages) : m_pos(num_pages, -1), m_pin(num_pages, 0) {}
  [[nodiscard]] std::span<const PageId> resident() const override { return m_list; }
  [[nodiscard]] bool is_resident(PageId p) const override { return p < m_pos.size() && m_pos[p] >= 0; }
  [[nodiscard]] bool is_pinned(PageId p) const override { return p < m_pin.size() && m_pin[p] == m_stamp; }
  void add(PageId p) {
    m_pos[p] = static_cast<std::int64_t>(m_list.size());
    m_list.push_back(p);
  }
  void remove(PageId p) {
    const auto i = static_cast<std::size_t>(m_pos[p]);
    m_list[i] = m_list.back();
    m_pos[m_list[i]] = static_cast<std::int64_t>(i);
    m_list.pop_back();
    m_pos[p] = -1;
  }
  void pin(std::span<const PageId> set) {
    ++m_stamp;
    for (PageId p : set) m_pin[p] = m_stamp;
  }
  [[nodiscard]] std::size_t size() const { return m_list.size(); }

 private:
  std::vector<PageId> m_list;
  std::vector<std::int64_t> m_pos;
  std::vector<std::uint64_t> m_pin;
  std::uint64_t m_stamp = 1;
};

Unexpected<CacheError> misbehaved(const PagingPolicy& policy, const std::string& what) {
  return Unexpected(CacheError{CacheErrc::k_invalid_argument, "policy " + std::string(policy.name()) + " " + what});
}

// Makes room for `incoming` (if the policy says so) and loads it.
Expected<void, CacheError> load(PagingPolicy& policy, Resident& resident, PageId incoming, const Step& step,
                                std::size_t& evictions) {
  // Bounded: each round evicts one resident page.
  for (std::size_t round = 0; policy.needs_room(incoming, resident.size()); ++round) {
    if (round > resident.size()) return misbehaved(policy, "keeps asking for room");
    const PageId victim = policy.choose_victim(step, incoming, resident);
    if (!resident.is_resident(victim)) return misbehaved(policy, "chose a page that is not resident");
    if (resident.is_pinned(victim)) return misbehaved(policy, "chose a pinned page");
    resident.remove(victim);
    policy.on_evict(victim);
    ++evictions;
  }
  resident.add(incoming);
  policy.on_load(incoming, step);
  return {};
}

}  // namespace

RequestSequence to_request_sequence(const solver::RoutingTrace& trace) {
  RequestSequence seq;
  seq.geometry = {trace.num_layers, trace.num_experts, trace.top_k};
  seq.pages.reserve(trace.ids.size());
  for (std::size_t i = 0; i < trace.ids.size(); ++i) {
    const std::size_t layer = (i / trace.top_k) % trace.num_layers;
    seq.pages.push_back(static_cast<PageId>(layer * trace.num_experts + trace.ids[i]));
  }
  return seq;
}

std::size_t capacity_for_fraction(const PagingGeometry& geometry, double fraction) {
  const double pages = std::round(fraction * static_cast<double>(geometry.num_pages()));
  return pages < 1.0 ? 1 : static_cast<std::size_t>(pages);
}

Expected<ReplayStats, CacheError> replay(const RequestSequence& sequence, PagingPolicy& policy,
                                         const ReplayOptions& options) {
  const PagingGeometry& g = sequence.geometry;
  if (g.num_layers == 0 || g.top_k == 0 || g.num_experts == 0)
    return Unexpected(CacheError{CacheErrc::k_invalid_argument, "empty request sequence"});
  SLIM_TRY_VOID(policy.reset(g, options.capacity));
  policy.set_future(sequence);

  ReplayStats stats;
  stats.policy = std::string(policy.name());
  stats.capacity = options.capacity;
  Resident resident(g.num_pages());
  std::vector<bool> seen(g.num_pages(), false);
  std::vector<PageId> missing;
  std::vector<PageId> ahead;
  std::size_t evictions = 0;
  const std::size_t warmup_steps = options.warmup_tokens * g.num_layers;

  for (std::size_t s = 0; s < sequence.num_steps(); ++s) {
    const Step step{s, s / g.num_layers, sequence.layer(s), sequence.set(s)};
    const bool counted = s >= warmup_steps;
    resident.pin(step.pages);
    missing.clear();
    for (PageId p : step.pages) {
      if (resident.is_resident(p)) {
        policy.on_hit(p, step);
      } else {
        missing.push_back(p);
      }
    }
    for (PageId p : missing) {
      if (counted) {
        ++stats.misses;
        if (!seen[p]) ++stats.cold_misses;
      }
      SLIM_TRY_VOID(load(policy, resident, p, step, evictions));
    }
    for (PageId p : step.pages) seen[p] = true;
    if (counted) stats.requests += step.pages.size();

    ahead.clear();
    policy.prefetch_after(step, resident, ahead);
    for (PageId p : ahead) {
      if (p >= g.num_pages() || resident.is_resident(p)) continue;
      SLIM_TRY_VOID(load(policy, resident, p, step, evictions));
      if (counted) ++stats.prefetch_loads;
    }
  }
  stats.evictions = evictions;
  return stats;
}

}  // namespace slimcache::agent::cache
