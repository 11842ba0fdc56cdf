// belady: the offline optimum for layered paging with set requests. Evicts the unpinned page
// whose next request is furthest in the future (never again = infinitely far). The pinned
// set is the current request, whose pages are needed now, so furthest-in-future applies
// unchanged; tests check it against an exhaustive search on tiny sequences.
// Needs the whole sequence first (set_future): evaluation only.
#include <limits>

#include "agent/cache/paging_policies.hpp"

namespace slimcache::agent::cache {

namespace {

class BeladyPolicy final : public PagingPolicy {
 public:
  [[nodiscard]] std::string_view name() const override { return "belady"; }
  Expected<void, CacheError> reset(const PagingGeometry& g, std::size_t capacity) override {
    SLIM_TRY_VOID(PagingPolicy::reset(g, capacity));
    m_next_use.assign(g.num_pages(), k_never);
    return {};
  }
  void set_future(const RequestSequence& seq) override {
    // next_step[i]: the step of the next request of the page requested at position i.
    m_next_step.assign(seq.pages.size(), k_never);
    std::vector<std::size_t> upcoming(seq.geometry.num_pages(), k_never);
    const std::size_t k = seq.geometry.top_k;
    for (std::size_t i = seq.pages.size(); i-- > 0;) {
      m_next_step[i] = upcoming[seq.pages[i]];
      upcoming[seq.pages[i]] = i / k;
    }
    m_k = k;
  }
  void on_hit(PageId p, const Step& s) override { update(p, s); }
  void on_load(PageId p, const Step& s) override { update(p, s); }
  void on_evict(PageId) override {}
  PageId choose_victim(const Step&, PageId, const ResidentView& view) override {
    PageId best = 0;
    std::size_t best_next = 0;
    bool found = false;
    for (PageId p : view.resident()) {
      if (view.is_pinned(p)) continue;
      if (!found || m_next_use[p] > best_next || (m_next_use[p] == best_next && p < best)) {
        best = p;
        best_next = m_next_use[p];
        found = true;
      }
    }
    return best;
  }

 private:
  static constexpr std::size_t k_never = std::numeric_limits<std::size_t>::max();
  void update(PageId p, const Step& s) {
    for (std::size_t i = 0; i < s.pages.size(); ++i) {
      if (s.pages[i] == p) {
        m_next_use[p] = m_next_step[s.index * m_k + i];
        return;
      }
    }
  }
  std::vector<std::size_t> m_next_step;
  std::vector<std::size_t> m_next_use;
  std::size_t m_k = 1;
};

}  // namespace

std::unique_ptr<PagingPolicy> make_belady_policy() { return std::make_unique<BeladyPolicy>(); }

}  // namespace slimcache::agent::cache
