#include "agent/engine/activation_stats.hpp"

#include <algorithm>
#include <cmath>

namespace slimcache::agent::engine {

ActivationStats::ActivationStats(std::uint32_t layers, std::uint32_t experts, std::uint32_t top_k, Options options)
    : m_layers(layers),
      m_experts(experts),
      m_top_k(std::max<std::uint32_t>(top_k, 1)),
      m_options(options),
      m_counts(std::size_t{layers} * experts, 0.0),
      m_last(std::size_t{layers} * experts, 0),
      m_sets(std::size_t{layers} * options.sets_per_layer * m_top_k, 0),
      m_fill(layers, 0),
      m_next(layers, 0) {}

void ActivationStats::fold_counters(std::span<const std::uint64_t> totals, double now_s) {
  const std::size_t n = std::min(totals.size(), m_counts.size());
  double decay = 1.0;
  if (m_have_last && m_options.half_life_s > 0 && now_s > m_last_time)
    decay = std::exp2(-(now_s - m_last_time) / m_options.half_life_s);
  for (std::size_t i = 0; i < n; ++i) {
    const std::uint64_t delta = totals[i] >= m_last[i] ? totals[i] - m_last[i] : totals[i];
    m_counts[i] = m_counts[i] * decay + static_cast<double>(delta);
    m_last[i] = totals[i];
  }
  m_last_time = now_s;
  m_have_last = true;
}

void ActivationStats::add_set(std::uint32_t layer, std::span<const std::uint16_t> ids) {
  if (layer >= m_layers || ids.size() != m_top_k || m_options.sets_per_layer == 0) return;
  std::uint16_t sorted[64];
  if (ids.size() > 64) return;
  std::copy(ids.begin(), ids.end(), sorted);
  std::sort(sorted, sorted + ids.size());
  if (sorted[ids.size() - 1] >= m_experts || std::adjacent_find(sorted, sorted + ids.size()) != sorted + ids.size()) return;
  const std::uint32_t slot = m_next[layer];
  std::copy(sorted, sorted + ids.size(),
            m_sets.begin() + static_cast<std::ptrdiff_t>((std::size_t{layer} * m_options.sets_per_layer + slot) * m_top_k));
  m_next[layer] = (slot + 1) % m_options.sets_per_layer;
  m_fill[layer] = std::min(m_fill[layer] + 1, m_options.sets_per_layer);
}

double ActivationStats::tokens(std::uint32_t layer) const {
  if (layer >= m_layers) return 0.0;
  double sum = 0.0;
  for (std::uint32_t e = 0; e < m_experts; ++e) sum += m_counts[std::size_t{layer} * m_experts + e];
  return sum / m_top_k;
}

std::vector<solver::LayerStats> ActivationStats::snapshot() const {
  std::vector<solver::LayerStats> out(m_layers);
  for (std::uint32_t l = 0; l < m_layers; ++l) {
    auto& s = out[l];
    const double t = tokens(l);
    s.marginals.assign(m_experts, t > 0 ? 0.0 : static_cast<double>(m_top_k) / m_experts);
    if (t > 0) {
      for (std::uint32_t e = 0; e < m_experts; ++e)
        s.marginals[e] = std::min(1.0, m_counts[std::size_t{l} * m_experts + e] / t);
    }
    const auto first = m_sets.begin() + static_cast<std::ptrdiff_t>(std::size_t{l} * m_options.sets_per_layer * m_top_k);
    s.sets.assign(first, first + static_cast<std::ptrdiff_t>(std::size_t{m_fill[l]} * m_top_k));
    s.weights.assign(m_fill[l], 1.0);
  }
  return out;
}

double ActivationStats::drift(const std::vector<solver::LayerStats>& a, const std::vector<solver::LayerStats>& b) {
  const std::size_t layers = std::min(a.size(), b.size());
  if (layers == 0) return 0.0;
  double total = 0.0;
  for (std::size_t l = 0; l < layers; ++l) {
    const auto& pa = a[l].marginals;
    const auto& pb = b[l].marginals;
    const std::size_t n = std::min(pa.size(), pb.size());
    double sa = 0, sb = 0;
    for (std::size_t e = 0; e < n; ++e) {
      sa += pa[e];
      sb += pb[e];
    }
    if (sa <= 0 || sb <= 0) continue;
    double tv = 0.0;
    for (std::size_t e = 0; e < n; ++e) tv += std::fabs(pa[e] / sa - pb[e] / sb);
    total += tv / 2;
  }
  return total / static_cast<double>(layers);
}

}  // namespace slimcache::agent::engine
