// lru, fifo, lfu, clock, random, marking and lru-per-layer. Victim choice scans the resident
// pages (O(capacity)); simple and exact, fast enough for replay and for the daemon's
// few-hundred-page memory tiers.
#include <limits>
#include <random>

#include "agent/cache/paging_policies.hpp"

namespace slimcache::agent::cache {

namespace {

// The unpinned resident page with the smallest key (ties: smaller page id).
template <typename Key>
PageId min_victim(const ResidentView& view, Key&& key) {
  PageId best = std::numeric_limits<PageId>::max();
  bool found = false;
  decltype(key(PageId{})) best_key{};
  for (PageId p : view.resident()) {
    if (view.is_pinned(p)) continue;
    const auto k = key(p);
    if (!found || k < best_key || (k == best_key && p < best)) {
      best = p;
      best_key = k;
      found = true;
    }
  }
  return best;
}

class LruPolicy : public PagingPolicy {
 public:
  [[nodiscard]] std::string_view name() const override { return "lru"; }
  Expected<void, CacheError> reset(const PagingGeometry& g, std::size_t capacity) override {
    SLIM_TRY_VOID(PagingPolicy::reset(g, capacity));
    m_last.assign(g.num_pages(), 0);
    m_tick = 0;
    return {};
  }
  void on_hit(PageId p, const Step&) override { m_last[p] = ++m_tick; }
  void on_load(PageId p, const Step&) override { m_last[p] = ++m_tick; }
  void on_evict(PageId) override {}
  PageId choose_victim(const Step&, PageId, const ResidentView& view) override {
    return min_victim(view, [&](PageId p) { return m_last[p]; });
  }

 protected:
  std::vector<std::uint64_t> m_last;
  std::uint64_t m_tick = 0;
};

class FifoPolicy final : public LruPolicy {
 public:
  [[nodiscard]] std::string_view name() const override { return "fifo"; }
  void on_hit(PageId, const Step&) override {}
};

class LfuPolicy final : public LruPolicy {
 public:
  [[nodiscard]] std::string_view name() const override { return "lfu"; }
  Expected<void, CacheError> reset(const PagingGeometry& g, std::size_t capacity) override {
    SLIM_TRY_VOID(LruPolicy::reset(g, capacity));
    m_count.assign(g.num_pages(), 0);
    return {};
  }
  void on_hit(PageId p, const Step& s) override {
    ++m_count[p];
    LruPolicy::on_hit(p, s);
  }
  void on_load(PageId p, const Step& s) override {
    m_count[p] = 1;
    LruPolicy::on_load(p, s);
  }
  PageId choose_victim(const Step&, PageId, const ResidentView& view) override {
    return min_victim(view, [&](PageId p) { return std::pair{m_count[p], m_last[p]}; });
  }

 private:
  std::vector<std::uint64_t> m_count;
};

// Second chance: frames in a circle, a reference bit per frame, a hand that clears bits
// until it finds an unreferenced, unpinned frame. New pages enter referenced.
class ClockPolicy final : public PagingPolicy {
 public:
  [[nodiscard]] std::string_view name() const override { return "clock"; }
  Expected<void, CacheError> reset(const PagingGeometry& g, std::size_t capacity) override {
    SLIM_TRY_VOID(PagingPolicy::reset(g, capacity));
    m_frame_page.assign(capacity, k_empty);
    m_referenced.assign(capacity, false);
    m_frame_of.assign(g.num_pages(), k_empty);
    m_hand = 0;
    return {};
  }
  void on_hit(PageId p, const Step&) override { m_referenced[m_frame_of[p]] = true; }
  void on_load(PageId p, const Step&) override {
    // The hand stops on the frame it freed; otherwise take the first empty frame.
    std::size_t f = m_hand;
    for (std::size_t i = 0; i < m_frame_page.size() && m_frame_page[f] != k_empty; ++i) f = (f + 1) % m_frame_page.size();
    m_frame_page[f] = p;
    m_frame_of[p] = static_cast<PageId>(f);
    m_referenced[f] = true;
    if (f == m_hand) m_hand = (m_hand + 1) % m_frame_page.size();
  }
  void on_evict(PageId p) override {
    m_frame_page[m_frame_of[p]] = k_empty;
    m_frame_of[p] = k_empty;
  }
  PageId choose_victim(const Step&, PageId, const ResidentView& view) override {
    // Two sweeps always suffice: the first clears every unpinned bit.
    for (std::size_t i = 0; i < 2 * m_frame_page.size() + 1; ++i) {
      const PageId p = m_frame_page[m_hand];
      if (p != k_empty && !view.is_pinned(p)) {
        if (!m_referenced[m_hand]) return p;
        m_referenced[m_hand] = false;
      }
      m_hand = (m_hand + 1) % m_frame_page.size();
    }
    return min_victim(view, [](PageId q) { return q; });  // unreachable with a valid view
  }

 private:
  static constexpr PageId k_empty = std::numeric_limits<PageId>::max();
  std::vector<PageId> m_frame_page;
  std::vector<bool> m_referenced;
  std::vector<PageId> m_frame_of;
  std::size_t m_hand = 0;
};

class RandomPolicy final : public PagingPolicy {
 public:
  explicit RandomPolicy(std::uint64_t seed) : m_seed(seed) {}
  [[nodiscard]] std::string_view name() const override { return "random"; }
  Expected<void, CacheError> reset(const PagingGeometry& g, std::size_t capacity) override {
    SLIM_TRY_VOID(PagingPolicy::reset(g, capacity));
    m_rng.seed(m_seed);
    return {};
  }
  void on_hit(PageId, const Step&) override {}
  void on_load(PageId, const Step&) override {}
  void on_evict(PageId) override {}
  PageId choose_victim(const Step&, PageId, const ResidentView& view) override {
    m_candidates.clear();
    for (PageId p : view.resident())
      if (!view.is_pinned(p)) m_candidates.push_back(p);
    return m_candidates[std::uniform_int_distribution<std::size_t>(0, m_candidates.size() - 1)(m_rng)];
  }

 private:
  std::uint64_t m_seed;
  std::mt19937_64 m_rng;
  std::vector<PageId> m_candidates;
};

// Randomized marking (Fiat et al.): a requested page is marked; the victim is a uniformly
// random unmarked page; when none is left a new phase unmarks every page but the pinned set.
class MarkingPolicy final : public PagingPolicy {
 public:
  explicit MarkingPolicy(std::uint64_t seed) : m_seed(seed) {}
  [[nodiscard]] std::string_view name() const override { return "marking"; }
  Expected<void, CacheError> reset(const PagingGeometry& g, std::size_t capacity) override {
    SLIM_TRY_VOID(PagingPolicy::reset(g, capacity));
    m_rng.seed(m_seed);
    m_marked.assign(g.num_pages(), false);
    return {};
  }
  void on_hit(PageId p, const Step&) override { m_marked[p] = true; }
  void on_load(PageId p, const Step&) override { m_marked[p] = true; }
  void on_evict(PageId p) override { m_marked[p] = false; }
  PageId choose_victim(const Step&, PageId, const ResidentView& view) override {
    collect(view);
    if (m_candidates.empty()) {
      for (PageId p : view.resident())
        if (!view.is_pinned(p)) m_marked[p] = false;
      collect(view);
    }
    return m_candidates[std::uniform_int_distribution<std::size_t>(0, m_candidates.size() - 1)(m_rng)];
  }

 private:
  void collect(const ResidentView& view) {
    m_candidates.clear();
    for (PageId p : view.resident())
      if (!view.is_pinned(p) && !m_marked[p]) m_candidates.push_back(p);
  }
  std::uint64_t m_seed;
  std::mt19937_64 m_rng;
  std::vector<bool> m_marked;
  std::vector<PageId> m_candidates;
};

// Static partition: layer l gets capacity / L pages (the first capacity % L layers one more),
// LRU inside each layer.
class LruPerLayerPolicy final : public LruPolicy {
 public:
  [[nodiscard]] std::string_view name() const override { return "lru-per-layer"; }
  Expected<void, CacheError> reset(const PagingGeometry& g, std::size_t capacity) override {
    if (g.num_layers > 0 && capacity / g.num_layers < g.top_k) {
      return Unexpected(CacheError{
          CacheErrc::k_invalid_argument,
          "lru-per-layer needs top-K (" + std::to_string(g.top_k) + ") pages per layer: a cache of " +
              std::to_string(capacity) + " pages over " + std::to_string(g.num_layers) + " layers gives " +
              std::to_string(capacity / g.num_layers)});
    }
    SLIM_TRY_VOID(LruPolicy::reset(g, capacity));
    m_count.assign(g.num_layers, 0);
    return {};
  }
  void on_load(PageId p, const Step& s) override {
    ++m_count[m_geometry.layer_of(p)];
    LruPolicy::on_load(p, s);
  }
  void on_evict(PageId p) override { --m_count[m_geometry.layer_of(p)]; }
  bool needs_room(PageId incoming, std::size_t) const override {
    const std::size_t l = m_geometry.layer_of(incoming);
    return m_count[l] >= quota(l);
  }
  PageId choose_victim(const Step&, PageId incoming, const ResidentView& view) override {
    const std::size_t l = m_geometry.layer_of(incoming);
    return min_victim(view, [&](PageId p) {
      return std::pair{m_geometry.layer_of(p) == l ? 0 : 1, m_last[p]};
    });
  }

 private:
  [[nodiscard]] std::size_t quota(std::size_t l) const {
    return m_capacity / m_geometry.num_layers + (l < m_capacity % m_geometry.num_layers ? 1 : 0);
  }
  std::vector<std::size_t> m_count;
};

}  // namespace

std::unique_ptr<PagingPolicy> make_lru_policy() { return std::make_unique<LruPolicy>(); }
std::unique_ptr<PagingPolicy> make_fifo_policy() { return std::make_unique<FifoPolicy>(); }
std::unique_ptr<PagingPolicy> make_lfu_policy() { return std::make_unique<LfuPolicy>(); }
std::unique_ptr<PagingPolicy> make_clock_policy() { return std::make_unique<ClockPolicy>(); }
std::unique_ptr<PagingPolicy> make_random_policy(std::uint64_t seed) { return std::make_unique<RandomPolicy>(seed); }
std::unique_ptr<PagingPolicy> make_marking_policy(std::uint64_t seed) { return std::make_unique<MarkingPolicy>(seed); }
std::unique_ptr<PagingPolicy> make_lru_per_layer_policy() { return std::make_unique<LruPerLayerPolicy>(); }

}  // namespace slimcache::agent::cache
