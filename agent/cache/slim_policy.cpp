#include "agent/cache/slim_policy.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "agent/cache/paging_policies.hpp"

namespace slimcache::agent::cache {

namespace {

class SlimPolicy final : public PagingPolicy {
 public:
  explicit SlimPolicy(const SlimParams& params) : m_params(params) {}
  [[nodiscard]] std::string_view name() const override { return "slim"; }
  Expected<void, CacheError> reset(const PagingGeometry& g, std::size_t capacity) override {
    if (!(m_params.decay > 0.0 && m_params.decay < 1.0))
      return Unexpected(CacheError{CacheErrc::k_invalid_argument, "slim: decay must be in (0, 1)"});
    SLIM_TRY_VOID(PagingPolicy::reset(g, capacity));
    m_freq.assign(g.num_pages(), 0.0);
    m_round.assign(g.num_pages(), 0);
    m_last_tick.assign(g.num_pages(), 0);
    m_tick = 0;
    const std::size_t e = g.num_experts;
    m_co.assign(g.num_layers * e * e, 0.0F);
    m_co_norm.assign(g.num_layers * e, 0.0F);
    m_prev_set.clear();
    m_learned_step = 0;
    m_protect.assign(g.num_pages(), k_unprotected);
    // decay^n for the ages that matter; older pages use std::pow.
    m_decay_pow.resize(256);
    m_decay_pow[0] = 1.0;
    for (std::size_t i = 1; i < m_decay_pow.size(); ++i) m_decay_pow[i] = m_decay_pow[i - 1] * m_params.decay;
    return {};
  }
  void on_hit(PageId p, const Step& s) override {
    learn_transition(s);
    request(p, s);
  }
  void on_load(PageId p, const Step& s) override {
    if (std::find(s.pages.begin(), s.pages.end(), p) != s.pages.end()) {
      learn_transition(s);
      request(p, s);
    } else {
      m_protect[p] = s.index + 1;  // prefetched for the next step: keep it until then
    }
  }
  void prefetch_after(const Step& s, const ResidentView& view, std::vector<PageId>& out) override {
    if (m_params.prefetch == 0) return;
    const std::size_t e_count = m_geometry.num_experts;
    const std::size_t next_layer = (s.layer + 1) % m_geometry.num_layers;
    m_candidates.clear();
    for (std::size_t b = 0; b < e_count; ++b) {
      const auto page = static_cast<PageId>(next_layer * e_count + b);
      if (view.is_resident(page)) continue;
      double q = 0.0;
      for (PageId a : s.pages) {
        const std::size_t row = a;  // layer * E + expert: the row of (s.layer, a)
        const float norm = m_co_norm[row];
        if (norm > 0.0F) q += m_co[row * e_count + b] / norm;
      }
      q /= static_cast<double>(s.pages.size());
      if (q >= m_params.prefetch_threshold) m_candidates.emplace_back(q, page);
    }
    std::sort(m_candidates.begin(), m_candidates.end(), [](const auto& x, const auto& y) {
      return x.first > y.first || (x.first == y.first && x.second < y.second);
    });
    // Never crowd out the pinned set and the next set: leave 2 * top_k unprotected room.
    const std::size_t room = m_capacity > 3 * m_geometry.top_k ? m_capacity - 3 * m_geometry.top_k : 0;
    const std::size_t n = std::min({m_candidates.size(), m_params.prefetch, room});
    for (std::size_t i = 0; i < n; ++i) out.push_back(m_candidates[i].second);
  }
  void on_evict(PageId) override {}
  PageId choose_victim(const Step& s, PageId, const ResidentView& view) override {
    const std::size_t layers = m_geometry.num_layers;
    PageId best = 0;
    double best_dist = -1.0;
    std::uint64_t best_tick = 0;
    for (PageId p : view.resident()) {
      if (view.is_pinned(p)) continue;
      if (m_protect[p] != k_unprotected && m_protect[p] >= s.index) continue;
      const std::size_t l = m_geometry.layer_of(p);
      const std::size_t rounds = s.token + (l <= s.layer ? 1 : 0);
      const double f = m_freq[p] * decay_pow(rounds - m_round[p]);
      const double r = std::clamp(f * (1.0 - m_params.decay), 1e-9, 1.0);
      const double comes_back = static_cast<double>((l + layers - s.layer - 1) % layers + 1);
      const double dist = comes_back + static_cast<double>(layers) * (1.0 / r - 1.0);
      if (dist > best_dist || (dist == best_dist && m_last_tick[p] < best_tick)) {
        best = p;
        best_dist = dist;
        best_tick = m_last_tick[p];
      }
    }
    return best;
  }

 private:
  [[nodiscard]] double decay_pow(std::size_t n) const {
    return n < m_decay_pow.size() ? m_decay_pow[n] : std::pow(m_params.decay, static_cast<double>(n));
  }
  // Learns which experts of this layer followed the previous step's set (once per step).
  void learn_transition(const Step& s) {
    if (m_learned_step == s.index + 1) return;
    m_learned_step = s.index + 1;
    const std::size_t e_count = m_geometry.num_experts;
    const std::size_t layer_base = s.layer * e_count;
    for (PageId a : m_prev_set) {
      float* row = &m_co[static_cast<std::size_t>(a) * e_count];
      for (std::size_t b = 0; b < e_count; ++b) row[b] *= static_cast<float>(m_params.co_decay);
      for (PageId b : s.pages) row[b - layer_base] += 1.0F;
      m_co_norm[a] = m_co_norm[a] * static_cast<float>(m_params.co_decay) + 1.0F;
    }
    m_prev_set.assign(s.pages.begin(), s.pages.end());
  }
  void request(PageId p, const Step& s) {
    const std::size_t round = s.token + 1;  // this request completes round token+1 of its layer
    m_freq[p] = m_freq[p] * decay_pow(round - m_round[p]) + 1.0;
    m_round[p] = round;
    m_last_tick[p] = ++m_tick;
  }
  SlimParams m_params;
  std::vector<double> m_freq;
  std::vector<std::size_t> m_round;
  std::vector<std::uint64_t> m_last_tick;
  std::vector<double> m_decay_pow;
  std::uint64_t m_tick = 0;
  static constexpr std::size_t k_unprotected = std::numeric_limits<std::size_t>::max();
  std::vector<float> m_co;       // [layer * E + a][b]: decayed count of b (next layer) after a
  std::vector<float> m_co_norm;  // [layer * E + a]: decayed count of a
  std::vector<PageId> m_prev_set;
  std::vector<std::size_t> m_protect;  // step until which a prefetched page is kept
  std::vector<std::pair<double, PageId>> m_candidates;
  std::size_t m_learned_step = 0;
};

}  // namespace

std::unique_ptr<PagingPolicy> make_slim_policy(const SlimParams& params) { return std::make_unique<SlimPolicy>(params); }
std::unique_ptr<PagingPolicy> make_slim_policy() { return make_slim_policy(SlimParams{}); }

}  // namespace slimcache::agent::cache
