#include "solver/local_swaps.hpp"

#include <algorithm>
#include <queue>
#include <utility>

namespace slimcache::solver {

LocalSwaps::LocalSwaps(Evaluator& eval, const MigrationCost& migration)
    : m_ev(eval), m_migration(migration), m_tolerance(1e-12 * std::max(eval.empty_latency(), 1e-300)) {
  const Problem& p = eval.problem();
  m_value.assign(p.num_nodes * p.num_experts, 0.0);
  m_version.assign(p.num_layers, 1);
  m_seen.assign(p.num_nodes * p.num_layers, 0);
  m_stats_seen.assign(p.num_layers, 0);
  m_top.resize(p.num_sets());
  m_second.resize(p.num_sets());
  m_slowest.resize(p.num_sets());
  m_adds.resize(p.num_layers);
  m_cursor.resize(p.num_layers);
}

double LocalSwaps::pay(std::size_t n, std::size_t g) const {
  const Problem& p = m_ev.problem();
  return m_migration.current != nullptr && !m_migration.current->has(n, g)
             ? m_migration.seconds_per_byte * static_cast<double>(p.size[g])
             : 0.0;
}

void LocalSwaps::set_stats(std::size_t l) {
  const Problem& p = m_ev.problem();
  const std::size_t L = p.num_layers;
  const auto none = static_cast<std::uint32_t>(p.num_experts);
  for (std::size_t u = 0; u < p.num_clients; ++u)
    for (std::size_t s = p.sets_begin[u * L + l]; s < p.sets_begin[u * L + l + 1]; ++s) {
      double top = -1.0, second = 0.0;
      std::uint32_t arg = none;
      bool tied = false;
      for (auto g : p.members(s)) {
        const double d = m_ev.expert_latency(u, g);
        if (d > top) {
          second = std::max(second, top);
          top = d;
          arg = g;
          tied = false;
        } else if (d == top && g != arg) {
          tied = true;
        } else if (d < top) {
          second = std::max(second, d);
        }
      }
      m_top[s] = top;
      m_second[s] = second;
      m_slowest[s] = tied ? none : arg;
    }
  m_stats_seen[l] = m_version[l];
}

// Every gain of a layer in one pass over its sets (gain_if_added per expert would cost K
// times more): adding g helps set A only when g is A's single slowest member, and then by
// w_A * (lat(A) - max(second slowest, D_{u,n,l})).
void LocalSwaps::refresh(std::size_t n, std::size_t l) {
  const Problem& p = m_ev.problem();
  const std::size_t L = p.num_layers, G = p.num_experts;
  if (m_stats_seen[l] != m_version[l]) set_stats(l);
  double* v = m_value.data() + n * G;
  const std::size_t gb = p.layer_begin[l], ge = p.layer_begin[l + 1];
  std::fill(v + gb, v + ge, 0.0);
  for (std::size_t u = 0; u < p.num_clients; ++u) {
    const double serve = p.serve_latency(u, n, l);
    for (std::size_t s = p.sets_begin[u * L + l]; s < p.sets_begin[u * L + l + 1]; ++s)
      if (m_slowest[s] != G && serve < m_top[s])
        v[m_slowest[s]] += p.set_weight[s] * (m_top[s] - std::max(m_second[s], serve));
  }
  for (std::size_t g = gb; g < ge; ++g)
    v[g] = m_ev.placement().has(n, g) ? m_ev.loss_if_removed(n, g) - pay(n, g) : v[g] - pay(n, g);
  m_seen[n * L + l] = m_version[l];
}

void LocalSwaps::list_adds(std::size_t n, std::size_t l) {
  const Problem& p = m_ev.problem();
  const double* v = m_value.data() + n * p.num_experts;
  auto& out = m_adds[l];
  out.clear();
  for (std::size_t g = p.layer_begin[l]; g < p.layer_begin[l + 1]; ++g)
    if (!m_ev.placement().has(n, g) && v[g] > m_tolerance) out.push_back(static_cast<std::uint32_t>(g));
  std::sort(out.begin(), out.end(), [&](auto x, auto y) { return v[x] > v[y] || (v[x] == v[y] && x < y); });
}

void LocalSwaps::list_drops(std::size_t n) {
  const Problem& p = m_ev.problem();
  const double* v = m_value.data() + n * p.num_experts;
  m_drops.clear();
  for (std::size_t g = 0; g < p.num_experts; ++g)
    if (m_ev.placement().has(n, g)) m_drops.push_back(static_cast<std::uint32_t>(g));
  std::sort(m_drops.begin(), m_drops.end(), [&](auto x, auto y) { return v[x] < v[y] || (v[x] == v[y] && x < y); });
}

// After a move in layers a and b: their held experts' losses changed, the other layers'
// did not, so only their entries are re-sorted and merged back: O(held + E log E).
void LocalSwaps::update_drops(std::size_t n, std::size_t a, std::size_t b) {
  const Problem& p = m_ev.problem();
  const double* v = m_value.data() + n * p.num_experts;
  auto less = [&](auto x, auto y) { return v[x] < v[y] || (v[x] == v[y] && x < y); };
  std::erase_if(m_drops, [&](std::uint32_t g) { return p.layer_of[g] == a || p.layer_of[g] == b; });
  const std::size_t kept = m_drops.size();
  auto held_of = [&](std::size_t l) {
    for (std::size_t g = p.layer_begin[l]; g < p.layer_begin[l + 1]; ++g)
      if (m_ev.placement().has(n, g)) m_drops.push_back(static_cast<std::uint32_t>(g));
  };
  held_of(a);
  if (b != a) held_of(b);
  const auto mid = m_drops.begin() + static_cast<std::ptrdiff_t>(kept);
  std::sort(mid, m_drops.end(), less);
  std::inplace_merge(m_drops.begin(), mid, m_drops.end(), less);
}

std::size_t LocalSwaps::improve(std::size_t n, std::size_t max_moves) {
  const Problem& p = m_ev.problem();
  const std::size_t G = p.num_experts, L = p.num_layers;
  if (p.budget[n] == 0) return 0;
  const double* v = m_value.data() + n * G;
  for (std::size_t l = 0; l < L; ++l) {
    if (m_seen[n * L + l] != m_version[l]) refresh(n, l);
    list_adds(n, l);
  }
  list_drops(n);
  std::uint64_t used = m_ev.placement().bytes_on(p, n);
  std::size_t moves = 0;
  using Head = std::pair<double, std::uint32_t>;  // add value, layer
  while (moves < max_moves) {
    const double least_loss = m_drops.empty() ? 0.0 : v[m_drops.front()];
    std::priority_queue<Head> heads;  // the layers' best remaining adds
    for (std::size_t l = 0; l < L; ++l) {
      m_cursor[l] = 0;
      if (!m_adds[l].empty()) heads.emplace(v[m_adds[l][0]], static_cast<std::uint32_t>(l));
    }
    std::size_t in = G, out = G;
    while (!heads.empty() && in == G) {
      const auto [gain, lg] = heads.top();
      heads.pop();
      const std::uint32_t g = m_adds[lg][m_cursor[lg]];
      if (++m_cursor[lg] < m_adds[lg].size()) heads.emplace(v[m_adds[lg][m_cursor[lg]]], lg);
      if (used + p.size[g] <= p.budget[n]) {  // a fill: its gain is exact
        in = g;
        break;
      }
      if (gain - least_loss <= m_tolerance) break;  // no drop pays for this or any later add
      for (const auto r : m_drops) {
        if (gain - v[r] <= m_tolerance) break;  // the bound: no later r can pay either
        if (used - p.size[r] + p.size[g] > p.budget[n]) continue;
        if (p.layer_of[r] != lg) {  // different layers: the bound is the exact change
          in = g;
          out = r;
          break;
        }
        const double was = m_ev.reduction();
        m_ev.remove(n, r);
        m_ev.add(n, g);
        const double delta = m_ev.reduction() - was - pay(n, g) + pay(n, r);
        m_ev.remove(n, g);
        m_ev.add(n, r);
        if (delta > m_tolerance) {
          in = g;
          out = r;
          break;
        }
      }
    }
    if (in == G) break;
    if (out != G) {
      m_ev.remove(n, out);
      used -= p.size[out];
    }
    m_ev.add(n, in);
    used += p.size[in];
    ++moves;
    const std::size_t lin = p.layer_of[in], lout = out != G ? p.layer_of[out] : lin;
    auto moved = [&](std::size_t l) {
      ++m_version[l];  // every other node re-values this layer at its next call
      refresh(n, l);
      list_adds(n, l);
    };
    moved(lin);
    if (lout != lin) moved(lout);
    update_drops(n, lin, lout);
  }
  return moves;
}

}  // namespace slimcache::solver
