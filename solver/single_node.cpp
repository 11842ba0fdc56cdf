#include "solver/single_node.hpp"

#include <algorithm>
#include <bit>
#include <chrono>
#include <numeric>
#include <optional>
#include <span>
#include <queue>
#include <tuple>
#include <limits>

#include "solver/maxplus.hpp"

namespace slimcache::solver {

std::uint64_t budget_unit(const Problem& p, std::size_t node) {
  if (p.num_experts == 0) return 1;
  if (p.uniform_sizes) return p.size[0];
  std::uint64_t g = 0;
  for (auto s : p.size) g = std::gcd(g, s);
  constexpr std::uint64_t k_max_units = std::uint64_t{1} << 16;
  const std::uint64_t budget = p.budget[node];
  if (budget / g > k_max_units) g = std::max(g, (budget + k_max_units - 1) / k_max_units);
  return g;
}

namespace {

// Index of the first minimum of v (as std::min_element) with block minima: v only
// decreases (lower()) or is removed (set to +infinity, remove()), so a block's minimum is
// updated in O(1) on a decrease and recomputed in O(k_block) on a removal; a query scans
// the block minima and one block: O(E / k_block + k_block) instead of O(E). Same answers
// as std::min_element (ties: the lowest index), so the peeling order is unchanged.
class BlockMin {
 public:
  static constexpr std::size_t k_block = 16;
  explicit BlockMin(std::vector<double>& v) : m_v(v), m_min((v.size() + k_block - 1) / k_block) {
    for (std::size_t b = 0; b < m_min.size(); ++b) recompute(b);
  }
  [[nodiscard]] std::size_t first() const {
    std::size_t best = 0;
    for (std::size_t b = 1; b < m_min.size(); ++b)
      if (m_min[b] < m_min[best]) best = b;
    const std::size_t lo = best * k_block, hi = std::min(m_v.size(), lo + k_block);
    std::size_t i = lo;
    for (std::size_t j = lo + 1; j < hi; ++j)
      if (m_v[j] < m_v[i]) i = j;
    return i;
  }
  void lower(std::size_t i, double value) {  // value <= v[i]
    m_v[i] = value;
    double& m = m_min[i / k_block];
    m = value < m ? value : m;
  }
  void remove(std::size_t i) {
    m_v[i] = std::numeric_limits<double>::infinity();
    recompute(i / k_block);
  }

 private:
  void recompute(std::size_t b) {
    double m = std::numeric_limits<double>::infinity();
    for (std::size_t j = b * k_block; j < std::min(m_v.size(), (b + 1) * k_block); ++j) m = m_v[j] < m ? m_v[j] : m;
    m_min[b] = m;
  }
  std::vector<double>& m_v;
  std::vector<double> m_min;
};

// Maximum of d[g - first] over the members (>= 0) into `worst`; returns how many members
// reach it.
std::uint32_t max_and_count(std::span<const std::uint32_t> members, const double* d, std::size_t first,
                            double& worst) {
  double m = 0.0;
  std::uint32_t c = 0;
  for (const auto g : members) {
    const double v = d[g - first];
    c = v > m ? 1U : c + (v == m ? 1U : 0U);
    m = v > m ? v : m;
  }
  worst = m;
  return c;
}

struct Choice {
  int kind = -1;          // -1 nothing, 0.. chain index, 100 enumeration mask
  std::uint64_t arg = 0;  // prefix length or mask
};

struct LayerSolver {
  const Problem& p;
  const Placement& x;
  std::size_t n;
  const SingleNodeOptions& opt;
  std::uint64_t unit;
  std::size_t capacity;
  // scratch; the per-set arrays (indexed by set id, written for a layer's sets before they
  // are read) live in a SingleNodeCache::Scratch so they are not reallocated per call
  std::vector<double> dl, dcur, a, cost;
  std::vector<std::size_t> units;
  std::vector<double>& base_lat;
  std::vector<double>& lat;
  std::vector<std::uint64_t>& needed;  // per set: members node n would speed up (bit i = member i)
  // StepKernels::fast (same results, less work): BlockMin instead of std::min_element, and
  // per-set counts of the members at the set's latency, so that evaluate_chain recomputes a
  // set's maximum only when its last slowest member gets faster.
  const bool fast_impl;
  std::vector<std::uint32_t>& base_cnt;
  std::vector<std::uint32_t>& cnt;

  LayerSolver(const Problem& prob, const Placement& pl, std::size_t node, const SingleNodeOptions& o,
              SingleNodeCache::Scratch& scratch)
      : p(prob), x(pl), n(node), opt(o), unit(budget_unit(prob, node)),
        capacity(static_cast<std::size_t>(prob.budget[node] / unit)), base_lat(scratch.base_lat), lat(scratch.lat),
        needed(scratch.needed), fast_impl(o.kernels == StepKernels::fast), base_cnt(scratch.base_cnt),
        cnt(scratch.cnt) {
    const std::size_t sets = prob.num_sets();
    if (lat.size() < sets) {
      lat.resize(sets);
      base_lat.resize(sets);
      needed.resize(sets);
    }
    if (fast_impl && cnt.size() < sets) {
      cnt.resize(sets);
      base_cnt.resize(sets);
    }
  }

  std::size_t first_set(std::size_t u, std::size_t l) const { return p.sets_begin[u * p.num_layers + l]; }
  std::size_t end_set(std::size_t u, std::size_t l) const { return p.sets_begin[u * p.num_layers + l + 1]; }

  void prepare(std::size_t l) {
    const std::size_t E = p.layer_size(l), gb = p.layer_begin[l], U = p.num_clients;
    dl.assign(U * E, 0.0);
    a.assign(U, 0.0);
    // d without node n: node-major, O(N * E + copies * U) instead of O(U * E * N).
    for (std::size_t u = 0; u < U; ++u) {
      a[u] = p.serve_latency(u, n, l);
      std::fill(dl.begin() + static_cast<std::ptrdiff_t>(u * E), dl.begin() + static_cast<std::ptrdiff_t>((u + 1) * E),
                p.fallback_latency(u, l));
    }
    for (std::size_t m = 0; m < p.num_nodes; ++m) {
      if (m == n) continue;
      const std::uint8_t* bits = x.bits.data() + m * p.num_experts + gb;
      for (std::size_t e = 0; e < E; ++e) {
        if (bits[e] == 0) continue;
        for (std::size_t u = 0; u < U; ++u) dl[u * E + e] = std::min(dl[u * E + e], p.serve_latency(u, m, l));
      }
    }
    for (std::size_t u = 0; u < U; ++u) {
      for (std::size_t s = first_set(u, l); s < end_set(u, l); ++s) {
        double worst = 0.0;
        if (fast_impl) {
          base_cnt[s] = max_and_count(p.members(s), dl.data() + u * E, gb, worst);
        } else {
          for (auto g : p.members(s)) worst = std::max(worst, dl[u * E + (g - gb)]);
        }
        base_lat[s] = worst;
      }
    }
    cost.assign(E, 0.0);
    units.assign(E, 0);
    for (std::size_t e = 0; e < E; ++e) {
      const std::size_t g = gb + e;
      units[e] = static_cast<std::size_t>((p.size[g] + unit - 1) / unit);
      if (opt.migration.current != nullptr && !opt.migration.current->has(n, g))
        cost[e] = opt.migration.seconds_per_byte * static_cast<double>(p.size[g]);
    }
  }

  // Exact J value after each prefix of the chain: values[i] = J(first i experts), for
  // i <= prefix (the profile never reads past the node's capacity).
  std::vector<double> evaluate_chain(std::size_t l, const std::vector<std::uint32_t>& chain, std::size_t prefix) {
    const std::size_t E = p.layer_size(l), gb = p.layer_begin[l], U = p.num_clients;
    dcur = dl;
    for (std::size_t u = 0; u < U; ++u)
      for (std::size_t s = first_set(u, l); s < end_set(u, l); ++s) lat[s] = base_lat[s];
    if (fast_impl)
      for (std::size_t u = 0; u < U; ++u)
        std::copy(base_cnt.begin() + static_cast<std::ptrdiff_t>(first_set(u, l)),
                  base_cnt.begin() + static_cast<std::ptrdiff_t>(end_set(u, l)),
                  cnt.begin() + static_cast<std::ptrdiff_t>(first_set(u, l)));
    std::vector<double> values{0.0};
    prefix = std::min(prefix, chain.size());
    values.reserve(prefix + 1);
    double acc = 0.0;
    for (std::size_t i = 0; i < prefix; ++i) {
      const std::uint32_t e = chain[i];
      const std::size_t g = gb + e;
      for (std::size_t u = 0; u < U; ++u) {
        const double old = dcur[u * E + e];
        if (!(a[u] < old)) continue;
        dcur[u * E + e] = a[u];
        if (fast_impl) {
          for (auto s : p.sets_of(u, g)) {
            const double cur = lat[s];
            // g was not a slowest member, or another member is still as slow: no change.
            // (old > cur: a repeated member already handled.)
            if (old != cur || --cnt[s] > 0) continue;
            double next = 0.0;
            cnt[s] = max_and_count(p.members(s), dcur.data() + u * E, gb, next);
            acc += p.set_weight[s] * (cur - next);
            lat[s] = next;
          }
          continue;
        }
        for (auto s : p.sets_of(u, g)) {
          const double cur = lat[s];
          if (old < cur) continue;
          double next = 0.0;
          for (auto h : p.members(s)) next = std::max(next, dcur[u * E + (h - gb)]);
          acc += p.set_weight[s] * (cur - next);
          lat[s] = next;
        }
      }
      acc -= cost[e];
      values.push_back(acc);
    }
    return values;
  }

  // Peeling chain and (when asked) popularity chain (see the header).
  std::pair<std::vector<std::uint32_t>, std::vector<std::uint32_t>> chains(std::size_t l, bool want_popular) {
    const std::size_t E = p.layer_size(l), gb = p.layer_begin[l], U = p.num_clients, K = p.top_k;
    std::vector<double> score(E, 0.0), inv_units(E);
    for (std::size_t e = 0; e < E; ++e) {
      score[e] = -cost[e];
      inv_units[e] = 1.0 / static_cast<double>(units[e]);
    }
    for (std::size_t u = 0; u < U; ++u)
      for (std::size_t s = first_set(u, l); s < end_set(u, l); ++s) {
        double floor = 0.0;
        std::uint64_t mask = 0;
        const auto mem = p.members(s);
        for (std::size_t i = 0; i < K; ++i) {
          const double d = dl[u * E + (mem[i] - gb)];
          floor = std::max(floor, std::min(d, a[u]));
          if (d > a[u]) mask |= std::uint64_t{1} << i;
        }
        const double v = p.set_weight[s] * (base_lat[s] - floor);
        lat[s] = v > 0.0 ? v : -1.0;  // reuse lat[] as "alive value" (negative = dead)
        needed[s] = mask;
        if (v <= 0.0) continue;
        for (std::size_t i = 0; i < K; ++i)
          if (mask >> i & 1U) score[mem[i] - gb] += v;
      }
    std::vector<std::uint32_t> popular;
    if (want_popular) {
      popular.resize(E);
      std::iota(popular.begin(), popular.end(), 0u);
      std::stable_sort(popular.begin(), popular.end(),
                       [&](auto i, auto j) { return score[i] * inv_units[i] > score[j] * inv_units[j]; });
    }
    // Peeling by linear scan: E is at most a few hundred, so a scan per removal is cheaper
    // than a heap with one push per score decrease.
    constexpr double k_removed = std::numeric_limits<double>::infinity();
    std::vector<double> dens(E);
    for (std::size_t e = 0; e < E; ++e) dens[e] = score[e] * inv_units[e];
    std::vector<std::uint32_t> order;
    order.reserve(E);
    std::optional<BlockMin> heads;  // Combine::fast: block minima (same order as the scan)
    if (fast_impl) heads.emplace(dens);
    for (std::size_t step = 0; step < E; ++step) {
      const auto e = static_cast<std::uint32_t>(
          fast_impl ? heads->first() : std::min_element(dens.begin(), dens.end()) - dens.begin());
      if (fast_impl) heads->remove(e);
      else dens[e] = k_removed;
      order.push_back(e);
      const std::size_t g = gb + e;
      for (std::size_t u = 0; u < U; ++u) {
        if (!(dl[u * E + e] > a[u])) continue;
        for (auto s : p.sets_of(u, g)) {
          const double v = lat[s];
          if (v < 0.0) continue;
          lat[s] = -1.0;
          const auto mem = p.members(s);
          for (std::uint64_t mask = needed[s]; mask != 0; mask &= mask - 1) {
            const std::size_t he = mem[static_cast<std::size_t>(std::countr_zero(mask))] - gb;
            // fast: a peeled expert's sets all died when it was peeled (its bit is set in the
            // mask of exactly those of its sets it would speed up, and those are the sets
            // killed), so an alive set's mask holds no peeled expert but e itself.
            if (fast_impl ? he == e : dens[he] == k_removed) continue;
            score[he] -= v;
            if (fast_impl) heads->lower(he, score[he] * inv_units[he]);
            else dens[he] = score[he] * inv_units[he];
          }
        }
      }
    }
    std::reverse(order.begin(), order.end());
    return {std::move(order), std::move(popular)};
  }

  // Forward completion chain: repeatedly complete the sampled set with the best
  // value per missing unit (its members that node n would speed up and has not added yet),
  // in the binary view of the peeling chain. Good at small budgets, where peeling is weak.
  // O(set members * log) with a lazy max-heap (a set's key only grows as members arrive).
  std::vector<std::uint32_t> completion_chain(std::size_t l) {
    const std::size_t E = p.layer_size(l), gb = p.layer_begin[l], U = p.num_clients, K = p.top_k;
    struct Info {
      double value = 0.0, cost = 0.0;
      std::size_t units = 0, missing = 0;
    };
    std::vector<Info> info;
    std::vector<std::size_t> base(U + 1, 0);
    for (std::size_t u = 0; u < U; ++u) base[u + 1] = base[u] + (end_set(u, l) - first_set(u, l));
    info.resize(base[U]);
    using Entry = std::tuple<double, std::uint32_t, std::uint32_t>;  // key, local set, missing count
    std::priority_queue<Entry> heap;
    for (std::size_t u = 0; u < U; ++u)
      for (std::size_t s = first_set(u, l); s < end_set(u, l); ++s) {
        Info& in = info[base[u] + (s - first_set(u, l))];
        double floor = 0.0;
        for (auto g : p.members(s)) {
          const double d = dl[u * E + (g - gb)];
          floor = std::max(floor, std::min(d, a[u]));
          if (d > a[u]) {
            ++in.missing;
            in.units += units[g - gb];
            in.cost += cost[g - gb];
          }
        }
        in.value = p.set_weight[s] * (base_lat[s] - floor);
        if (in.value > 0.0 && in.missing > 0)
          heap.emplace((in.value - in.cost) / static_cast<double>(in.units),
                       static_cast<std::uint32_t>(base[u] + (s - first_set(u, l))), static_cast<std::uint32_t>(in.missing));
      }
    std::vector<std::uint8_t> added(E, 0);
    std::vector<std::uint32_t> chain;
    while (!heap.empty() && chain.size() < E) {
      const auto [key, local, missing] = heap.top();
      heap.pop();
      Info& in = info[local];
      if (in.missing != missing || in.missing == 0) continue;
      if (key <= 0.0) break;
      const std::size_t u = static_cast<std::size_t>(std::upper_bound(base.begin(), base.end(), local) - base.begin()) - 1;
      const std::size_t s = first_set(u, l) + (local - base[u]);
      const auto mem = p.members(s);
      for (std::size_t i = 0; i < K; ++i) {
        const std::size_t e = mem[i] - gb;
        if (added[e] || !(dl[u * E + e] > a[u])) continue;
        added[e] = 1;
        chain.push_back(static_cast<std::uint32_t>(e));
        for (std::size_t v = 0; v < U; ++v) {
          if (!(dl[v * E + e] > a[v])) continue;
          for (auto t : p.sets_of(v, gb + e)) {
            Info& other = info[base[v] + (t - first_set(v, l))];
            if (other.missing == 0) continue;
            --other.missing;
            other.units -= units[e];
            other.cost -= cost[e];
            if (other.missing > 0 && other.value > 0.0)
              heap.emplace((other.value - other.cost) / static_cast<double>(other.units),
                           static_cast<std::uint32_t>(base[v] + (t - first_set(v, l))),
                           static_cast<std::uint32_t>(other.missing));
          }
        }
      }
    }
    return chain;
  }

  // Exact best J per exact unit count over all subsets (small layers only).
  void enumerate(std::size_t l, std::vector<double>& best, std::vector<Choice>& choice) {
    const std::size_t E = p.layer_size(l), gb = p.layer_begin[l], U = p.num_clients;
    for (std::uint64_t mask = 1; mask < (std::uint64_t{1} << E); ++mask) {
      std::size_t used = 0;
      double value = 0.0;
      for (std::size_t e = 0; e < E; ++e)
        if (mask >> e & 1U) {
          used += units[e];
          value -= cost[e];
        }
      if (used >= best.size()) continue;
      for (std::size_t u = 0; u < U; ++u)
        for (std::size_t s = first_set(u, l); s < end_set(u, l); ++s) {
          double worst = 0.0;
          for (auto g : p.members(s)) {
            const std::size_t e = g - gb;
            double d = dl[u * E + e];
            if (mask >> e & 1U) d = std::min(d, a[u]);
            worst = std::max(worst, d);
          }
          value += p.set_weight[s] * (base_lat[s] - worst);
        }
      if (value > best[used]) {
        best[used] = value;
        choice[used] = Choice{100, mask};
      }
    }
  }
};

}  // namespace

SingleNodeResult solve_single_node(const Evaluator& eval, std::size_t node, const SingleNodeOptions& opt,
                                   SingleNodeCache* cache) {
  const Problem& p = eval.problem();
  const Placement& x = eval.placement();
  SingleNodeCache::Scratch local_scratch;
  LayerSolver ls(p, x, node, opt, cache != nullptr ? cache->scratch : local_scratch);
  const std::size_t L = p.num_layers;
  std::vector<SingleNodeCache::Layer> local;
  if (cache != nullptr && cache->layers.size() != p.num_nodes * L) cache->layers.assign(p.num_nodes * L, {});
  if (cache == nullptr) local.resize(L);
  std::vector<std::vector<double>> profiles(L);
  for (std::size_t l = 0; l < L; ++l) {
    SingleNodeCache::Layer& memo = cache != nullptr ? cache->layers[node * L + l] : local[l];
    const std::size_t E = p.layer_size(l), gb = p.layer_begin[l];
    // Key: the other nodes' content of this layer.
    std::uint64_t key = 0x9E3779B97F4A7C15ULL ^ (node * 0x100000001B3ULL);
    for (std::size_t m = 0; m < p.num_nodes; ++m) {
      if (m == node) continue;
      const std::uint8_t* bits = x.bits.data() + m * p.num_experts + gb;
      for (std::size_t e = 0; e < E; ++e)
        if (bits[e]) key = (key ^ (m * 1000003ULL + e + 1)) * 0x100000001B3ULL;
    }
    if (memo.valid && memo.key == key) {
      profiles[l] = memo.profile;
      continue;
    }
    ls.prepare(l);
    std::size_t total_units = 0;
    for (auto un : ls.units) total_units += un;
    const std::size_t len = std::min(ls.capacity, total_units) + 1;
    std::vector<double> best(len, 0.0);
    std::vector<Choice> choice(len);
    const bool want_popular = E <= opt.popularity_chain_max_experts;
    auto [peel, popular] = ls.chains(l, want_popular);
    // The popularity chain only pays on small layers (measured: on E >= 64 it never beat
    // the peeling chain in the report grid), so large layers evaluate one chain.
    memo.chains.clear();
    memo.chains.push_back(std::move(peel));
    if (want_popular) memo.chains.push_back(std::move(popular));
    if (E <= opt.completion_chain_max_experts) memo.chains.push_back(ls.completion_chain(l));
    for (std::size_t c = 0; c < memo.chains.size(); ++c) {
      const auto& chain = memo.chains[c];
      // Only the prefixes that fit into the profile are valued (same profile, less work).
      std::size_t prefix = 0, used = 0;
      while (prefix < chain.size() && used + ls.units[chain[prefix]] < len) used += ls.units[chain[prefix++]];
      const auto values = ls.evaluate_chain(l, chain, prefix);
      used = 0;
      for (std::size_t i = 1; i < values.size(); ++i) {
        used += ls.units[chain[i - 1]];
        if (used >= len) break;
        if (values[i] > best[used]) {
          best[used] = values[i];
          choice[used] = Choice{static_cast<int>(c), i};
        }
      }
    }
    std::size_t set_work = 0;
    for (std::size_t u = 0; u < p.num_clients; ++u)
      set_work += (ls.end_set(u, l) - ls.first_set(u, l)) * p.top_k;
    if (E < 24 && (std::size_t{1} << E) * (set_work + E) <= opt.enumerate_work_limit) ls.enumerate(l, best, choice);
    // Staircase: best with at most c units.
    for (std::size_t c = 1; c < len; ++c)
      if (best[c - 1] >= best[c]) {
        best[c] = best[c - 1];
        choice[c] = choice[c - 1];
      }
    memo.key = key;
    memo.valid = true;
    memo.profile = best;
    memo.kind.resize(len);
    memo.arg.resize(len);
    for (std::size_t c = 0; c < len; ++c) {
      memo.kind[c] = choice[c].kind;
      memo.arg[c] = choice[c].arg;
    }
    profiles[l] = std::move(best);
  }
  const auto combine_start = std::chrono::steady_clock::now();
  const Combination comb = opt.combine == Combine::exact ? combine_exact(profiles, ls.capacity)
                                                         : combine_fast(profiles, ls.capacity, opt.epsilon);
  SingleNodeResult out;
  out.combine_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - combine_start).count();
  out.used_exact_dp = comb.used_exact_dp;
  for (std::size_t l = 0; l < L; ++l) {
    const SingleNodeCache::Layer& memo = cache != nullptr ? cache->layers[node * L + l] : local[l];
    const std::size_t c = comb.units[l];
    const std::size_t gb = p.layer_begin[l];
    if (memo.kind[c] < 0) continue;
    out.gain += profiles[l][c];
    if (memo.kind[c] == 100) {
      for (std::size_t e = 0; e < p.layer_size(l); ++e)
        if (memo.arg[c] >> e & 1U) out.experts.push_back(static_cast<std::uint32_t>(gb + e));
    } else {
      const auto& chain = memo.chains[static_cast<std::size_t>(memo.kind[c])];
      for (std::size_t i = 0; i < memo.arg[c]; ++i) out.experts.push_back(static_cast<std::uint32_t>(gb + chain[i]));
    }
  }
  return out;
}

}  // namespace slimcache::solver
