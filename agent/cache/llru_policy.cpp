// llru: layer-aware LRU as MODEL.md section 5 defines it. A page's age is counted in rounds
// of its own layer (how many times its layer was requested since the page was last used);
// the oldest page goes first; among equal ages, the page whose layer comes back last (in
// the cyclic layer order, seen from the current step) goes first; then plain LRU order.
#include <tuple>

#include "agent/cache/paging_policies.hpp"

namespace slimcache::agent::cache {

namespace {

class LlruPolicy final : public PagingPolicy {
 public:
  [[nodiscard]] std::string_view name() const override { return "llru"; }
  Expected<void, CacheError> reset(const PagingGeometry& g, std::size_t capacity) override {
    SLIM_TRY_VOID(PagingPolicy::reset(g, capacity));
    m_last_round.assign(g.num_pages(), 0);
    m_last_tick.assign(g.num_pages(), 0);
    m_tick = 0;
    return {};
  }
  void on_hit(PageId p, const Step& s) override { touch(p, s); }
  void on_load(PageId p, const Step& s) override { touch(p, s); }
  void on_evict(PageId) override {}
  PageId choose_victim(const Step& s, PageId, const ResidentView& view) override {
    const std::size_t layers = m_geometry.num_layers;
    PageId best = 0;
    bool found = false;
    std::tuple<std::size_t, std::size_t, std::uint64_t> best_key{};
    for (PageId p : view.resident()) {
      if (view.is_pinned(p)) continue;
      const std::size_t l = m_geometry.layer_of(p);
      // Rounds of layer l so far: tokens before this one, plus this token's if l is served.
      const std::size_t rounds = s.token + (l <= s.layer ? 1 : 0);
      const std::size_t age = rounds - m_last_round[p];
      // 0 for the next layer to come, layers - 1 for the current layer.
      const std::size_t comes_back = (l + layers - s.layer - 1) % layers;
      // Larger age, then later comeback, then older use: invert the tick to compare with >.
      const std::tuple key{age, comes_back, ~m_last_tick[p]};
      if (!found || key > best_key) {
        best = p;
        best_key = key;
        found = true;
      }
    }
    return best;
  }

 private:
  void touch(PageId p, const Step& s) {
    m_last_round[p] = s.token + 1;  // the round of its layer that this request completes
    m_last_tick[p] = ++m_tick;
  }
  std::vector<std::size_t> m_last_round;
  std::vector<std::uint64_t> m_last_tick;
  std::uint64_t m_tick = 0;
};

}  // namespace

std::unique_ptr<PagingPolicy> make_llru_policy() { return std::make_unique<LlruPolicy>(); }

}  // namespace slimcache::agent::cache
