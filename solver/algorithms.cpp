#include "solver/algorithms.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <queue>
#include <tuple>

#include "solver/evaluator.hpp"
#include "solver/local_swaps.hpp"
#include "solver/random.hpp"

namespace slimcache::solver {

namespace {

constexpr std::array<Algorithm, 8> k_all{Algorithm::greedy,     Algorithm::sgd,
                                         Algorithm::sgd_fast,   Algorithm::random,
                                         Algorithm::popularity, Algorithm::popularity_distinct,
                                         Algorithm::layer_uniform, Algorithm::greedy_marginal};
constexpr std::array<std::pair<Algorithm, std::string_view>, 9> k_names{{
    {Algorithm::greedy, "greedy"},
    {Algorithm::sgd, "sgd"},
    {Algorithm::sgd_fast, "sgd-fast"},
    {Algorithm::random, "random"},
    {Algorithm::popularity, "popularity"},
    {Algorithm::popularity_distinct, "popularity-distinct"},
    {Algorithm::layer_uniform, "layer-uniform"},
    {Algorithm::greedy_marginal, "greedy-marginal"},
    {Algorithm::brute_force, "brute-force"},
}};

double migration_bytes(const Problem& p, const Placement& x, const MigrationCost& m) {
  if (m.current == nullptr) return 0.0;
  double bytes = 0.0;
  for (std::size_t n = 0; n < p.num_nodes; ++n)
    for (std::size_t g = 0; g < p.num_experts; ++g)
      if (x.has(n, g) && !m.current->has(n, g)) bytes += static_cast<double>(p.size[g]);
  return bytes;
}

SolveResult finish(const Problem& p, const Placement& x, const SolveOptions& opt) {
  Evaluator ev(p, x);
  SolveResult r;
  r.placement = x;
  r.latency_s = ev.latency();
  r.empty_latency_s = ev.empty_latency();
  r.reduction_s = r.empty_latency_s - r.latency_s;
  r.migration_bytes = migration_bytes(p, x, opt.migration);
  return r;
}

std::vector<double> global_popularity(const Problem& p) {
  std::vector<double> pop(p.num_experts, 0.0);
  for (std::size_t u = 0; u < p.num_clients; ++u)
    for (std::size_t g = 0; g < p.num_experts; ++g) pop[g] += p.popularity[u * p.num_experts + g];
  return pop;
}

std::vector<std::uint32_t> by_popularity(const Problem& p) {
  const auto pop = global_popularity(p);
  std::vector<std::uint32_t> order(p.num_experts);
  std::iota(order.begin(), order.end(), 0u);
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return pop[a] > pop[b]; });
  return order;
}

Placement random_placement(const Problem& p, std::uint64_t seed) {
  Placement x(p.num_nodes, p.num_experts);
  SplitMix64 rng(seed);
  std::vector<std::uint32_t> order(p.num_experts);
  for (std::size_t n = 0; n < p.num_nodes; ++n) {
    std::iota(order.begin(), order.end(), 0u);
    rng.shuffle(order);
    std::uint64_t left = p.budget[n];
    for (auto g : order)
      if (p.size[g] <= left) {
        x.set(n, g, true);
        left -= p.size[g];
      }
  }
  return x;
}

Placement popularity_placement(const Problem& p) {
  Placement x(p.num_nodes, p.num_experts);
  const auto order = by_popularity(p);
  for (std::size_t n = 0; n < p.num_nodes; ++n) {
    std::uint64_t left = p.budget[n];
    for (auto g : order)
      if (p.size[g] <= left) {
        x.set(n, g, true);
        left -= p.size[g];
      }
  }
  return x;
}

// Nodes by lambda-weighted mean serving latency to the clients, nearest first.
std::vector<std::size_t> nodes_nearest_first(const Problem& p) {
  std::vector<double> dist(p.num_nodes, 0.0);
  for (std::size_t n = 0; n < p.num_nodes; ++n)
    for (std::size_t u = 0; u < p.num_clients; ++u)
      for (std::size_t l = 0; l < p.num_layers; ++l)
        dist[n] += p.client_weight[u] * std::min(p.serve_latency(u, n, l), 1e9);
  std::vector<std::size_t> order(p.num_nodes);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return dist[a] < dist[b]; });
  return order;
}

Placement popularity_distinct_placement(const Problem& p) {
  Placement x(p.num_nodes, p.num_experts);
  const auto nodes = nodes_nearest_first(p);
  std::vector<std::uint64_t> left(p.budget);
  for (auto g : by_popularity(p))
    for (auto n : nodes)
      if (p.size[g] <= left[n]) {
        x.set(n, g, true);
        left[n] -= p.size[g];
        break;
      }
  return x;
}

Placement layer_uniform_placement(const Problem& p) {
  Placement x(p.num_nodes, p.num_experts);
  const auto pop = global_popularity(p);
  // Each layer's experts by popularity: one order, shared by every node.
  std::vector<std::vector<std::uint32_t>> orders(p.num_layers);
  for (std::size_t l = 0; l < p.num_layers; ++l) {
    auto& order = orders[l];
    for (std::size_t g = p.layer_begin[l]; g < p.layer_begin[l + 1]; ++g) order.push_back(static_cast<std::uint32_t>(g));
    std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return pop[a] > pop[b]; });
  }
  for (std::size_t n = 0; n < p.num_nodes; ++n) {
    const std::uint64_t share = p.budget[n] / p.num_layers;
    for (std::size_t l = 0; l < p.num_layers; ++l) {
      const auto& order = orders[l];
      std::uint64_t left = share;
      for (auto g : order)
        if (p.size[g] <= left) {
          x.set(n, g, true);
          left -= p.size[g];
        }
    }
  }
  return x;
}

// A cooperative start: complete sampled sets with the pooled capacity of all nodes. From
// nothing, a node whose budget cannot hold a whole set (K = 8 and 6 slots, say) gains
// nothing from any content of its own, so the node-by-node ascent never leaves the empty
// placement, although two nodes holding parts of the same sets would gain. Greedy over the
// sampled sets: take the set with the best estimated value per missing byte (value: its
// weight times the fallback latency minus the latency it gets when every missing member
// goes to the fastest node with room), place its missing members there, repeat until no
// set fits. A key grows when a member becomes present (the set is pushed again) and falls
// when nodes fill up (checked when popped, re-queued if no longer the best): a lazy
// max-heap. O(set members * K * log(sets)).
Placement completion_placement(const Problem& p) {
  Placement x(p.num_nodes, p.num_experts);
  const std::size_t S = p.num_sets(), G = p.num_experts, N = p.num_nodes, L = p.num_layers;
  std::vector<std::uint64_t> left(p.budget);
  std::uint64_t room = std::accumulate(left.begin(), left.end(), std::uint64_t{0});
  const std::uint64_t smallest = G > 0 ? *std::min_element(p.size.begin(), p.size.end()) : 1;
  // Nodes by serving latency for each (client, layer); `first` skips nodes that are full.
  std::vector<std::uint32_t> by_speed(p.num_clients * L * N);
  std::vector<std::size_t> first(p.num_clients * L, 0);
  for (std::size_t ul = 0; ul < p.num_clients * L; ++ul) {
    auto* o = by_speed.data() + ul * N;
    std::iota(o, o + N, 0u);
    std::stable_sort(o, o + N, [&](auto m, auto n) {
      return p.serve_latency(ul / L, m, ul % L) < p.serve_latency(ul / L, n, ul % L);
    });
  }
  auto fastest = [&](std::size_t u, std::size_t l, std::uint64_t bytes) {  // N: none has room
    const auto* o = by_speed.data() + (u * L + l) * N;
    std::size_t& i = first[u * L + l];
    while (i < N && left[o[i]] < smallest) ++i;
    for (std::size_t j = i; j < N; ++j)
      if (left[o[j]] >= bytes) return static_cast<std::size_t>(o[j]);
    return N;
  };
  std::vector<std::uint8_t> present(G, 0);
  std::vector<std::uint32_t> missing(S, 0);
  std::vector<std::uint64_t> missing_bytes(S, 0), largest_missing(S, 0);
  std::vector<double> d(p.num_clients * G);  // latency of (client, expert) under x
  for (std::size_t u = 0; u < p.num_clients; ++u)
    for (std::size_t g = 0; g < G; ++g) d[u * G + g] = p.fallback_latency(u, p.layer_of[g]);
  // Estimated gain per missing byte of completing set s now; 0 when it cannot be.
  auto key = [&](std::size_t s) {
    if (missing[s] == 0 || missing_bytes[s] > room) return 0.0;
    const std::size_t u = p.set_client[s], l = p.layer_of[p.members(s)[0]];
    const std::size_t n = fastest(u, l, largest_missing[s]);
    if (n == N) return 0.0;
    double worst = p.serve_latency(u, n, l);
    for (auto g : p.members(s))
      if (present[g]) worst = std::max(worst, d[u * G + g]);
    return p.set_weight[s] * (p.fallback_latency(u, l) - worst) / static_cast<double>(missing_bytes[s]);
  };
  auto refresh_missing = [&](std::size_t s) {
    missing[s] = 0;
    missing_bytes[s] = 0;
    largest_missing[s] = 0;
    for (auto g : p.members(s))
      if (!present[g]) {
        ++missing[s];
        missing_bytes[s] += p.size[g];
        largest_missing[s] = std::max(largest_missing[s], p.size[g]);
      }
  };
  using Entry = std::pair<double, std::uint32_t>;  // key, set
  std::priority_queue<Entry> heap;
  for (std::size_t s = 0; s < S; ++s) {
    refresh_missing(s);
    const double k = key(s);
    if (k > 0.0) heap.emplace(k, static_cast<std::uint32_t>(s));
  }
  while (!heap.empty() && room >= smallest) {
    const auto [stale, s] = heap.top();
    heap.pop();
    const double k = key(s);
    if (!(k > 0.0)) continue;
    if (!heap.empty() && k < heap.top().first) {  // the key fell (nodes filled up): re-queue
      heap.emplace(k, s);
      continue;
    }
    const std::size_t u = p.set_client[s];
    for (auto g : p.members(s)) {
      if (present[g]) continue;
      const std::size_t l = p.layer_of[g];
      const std::size_t n = fastest(u, l, p.size[g]);
      if (n == N) break;
      x.set(n, g, true);
      left[n] -= p.size[g];
      room -= p.size[g];
      present[g] = 1;
      for (std::size_t v = 0; v < p.num_clients; ++v) {
        d[v * G + g] = std::min(d[v * G + g], p.serve_latency(v, n, l));
        for (auto t : p.sets_of(v, g)) {
          if (missing[t] == 0) continue;
          refresh_missing(t);
          const double kt = key(t);
          if (kt > 0.0) heap.emplace(kt, t);
        }
      }
    }
  }
  return x;
}

// Exact K = 1, one client, uniform sizes: a transportation problem (experts -> nodes with
// capacities), solved by successive shortest paths on the node-side graph (Bellman-Ford
// over nodes; an edge n -> m moves an expert assigned to n over to m).
Placement flow_placement(const Problem& p) {
  const std::size_t G = p.num_experts, N = p.num_nodes;
  std::vector<double> v(G * N, 0.0);
  for (std::size_t g = 0; g < G; ++g) {
    double w = 0.0;
    for (auto s : p.sets_of(0, g)) w += p.set_weight[s];
    const std::size_t l = p.layer_of[g];
    for (std::size_t n = 0; n < N; ++n)
      v[g * N + n] = w * std::max(0.0, p.fallback_latency(0, l) - p.serve_latency(0, n, l));
  }
  std::vector<std::size_t> cap(N), load(N, 0);
  for (std::size_t n = 0; n < N; ++n) cap[n] = static_cast<std::size_t>(p.budget[n] / p.size[0]);
  constexpr std::size_t k_none = static_cast<std::size_t>(-1);
  std::vector<std::size_t> assign(G, k_none);
  constexpr double k_inf = 1e300;
  std::vector<double> dist(N), via(N * N);
  std::vector<std::size_t> src(N), pred(N), pred_e(N), via_e(N * N);
  for (std::size_t iter = 0; iter <= G; ++iter) {
    std::fill(dist.begin(), dist.end(), k_inf);
    for (std::size_t g = 0; g < G; ++g) {
      if (assign[g] != k_none) continue;
      for (std::size_t n = 0; n < N; ++n)
        if (v[g * N + n] > 0.0 && -v[g * N + n] < dist[n]) {
          dist[n] = -v[g * N + n];
          src[n] = g;
        }
    }
    std::fill(via.begin(), via.end(), k_inf);
    for (std::size_t g = 0; g < G; ++g) {
      const std::size_t from = assign[g];
      if (from == k_none) continue;
      for (std::size_t m = 0; m < N; ++m) {
        const double c = v[g * N + from] - v[g * N + m];
        if (m != from && c < via[from * N + m]) {
          via[from * N + m] = c;
          via_e[from * N + m] = g;
        }
      }
    }
    std::fill(pred.begin(), pred.end(), k_none);
    for (std::size_t round = 0; round < N; ++round) {
      bool changed = false;
      for (std::size_t a = 0; a < N; ++a) {
        if (dist[a] >= k_inf) continue;
        for (std::size_t b = 0; b < N; ++b) {
          const double c = via[a * N + b];
          if (c >= k_inf || dist[a] + c >= dist[b] - 1e-15 * std::abs(dist[b])) continue;
          dist[b] = dist[a] + c;
          pred[b] = a;
          pred_e[b] = via_e[a * N + b];
          changed = true;
        }
      }
      if (!changed) break;
    }
    std::size_t t = k_none;
    for (std::size_t n = 0; n < N; ++n)
      if (load[n] < cap[n] && dist[n] < 0.0 && (t == k_none || dist[n] < dist[t])) t = n;
    if (t == k_none) break;
    std::size_t cur = t;
    ++load[t];
    for (std::size_t step = 0; step <= N; ++step) {
      if (pred[cur] == k_none) {
        assign[src[cur]] = cur;
        break;
      }
      assign[pred_e[cur]] = cur;
      cur = pred[cur];
    }
  }
  Placement x(N, G);
  for (std::size_t g = 0; g < G; ++g)
    if (assign[g] != k_none) x.set(assign[g], g, true);
  return x;
}

Placement greedy_placement(const Problem& p, std::string& note) {
  if (p.top_k == 1 && p.uniform_sizes && p.num_clients == 1) {
    note = "exact: min-cost flow (K=1, uniform sizes, one client)";
    return flow_placement(p);
  }
  Evaluator ev(p);
  // Max-heap of (density, node << 32 | expert): the same order as (density, node, expert).
  // Entries of a node that can no longer fit any expert are dropped in bulk once they are
  // the majority (they would only be popped and discarded; no decision depends on them).
  using Entry = std::pair<double, std::uint64_t>;
  std::vector<Entry> heap;
  heap.reserve(p.num_nodes * p.num_experts);
  std::vector<std::size_t> entries_of(p.num_nodes, 0);
  double best_single = 0.0;
  std::size_t single_n = 0, single_g = 0;
  for (std::size_t n = 0; n < p.num_nodes; ++n)
    for (std::size_t g = 0; g < p.num_experts; ++g) {
      if (p.size[g] > p.budget[n]) continue;
      const double gain = ev.gain_if_added(n, g);
      if (gain <= 0.0) continue;
      if (gain > best_single) {
        best_single = gain;
        single_n = n;
        single_g = g;
      }
      heap.emplace_back(gain / static_cast<double>(p.size[g]), std::uint64_t{n} << 32 | g);
      ++entries_of[n];
    }
  std::make_heap(heap.begin(), heap.end());
  const std::uint64_t min_size = p.num_experts == 0 ? 0 : *std::min_element(p.size.begin(), p.size.end());
  std::vector<std::uint64_t> left(p.budget);
  std::vector<std::uint8_t> full(p.num_nodes, 0);
  std::size_t dead = 0;
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end());
    const auto [key, packed] = heap.back();
    heap.pop_back();
    const std::size_t n = packed >> 32, g = packed & 0xFFFFFFFFU;
    --entries_of[n];
    if (full[n]) --dead;
    if (p.size[g] > left[n] || ev.placement().has(n, g)) continue;
    const double gain = ev.gain_if_added(n, g);
    if (gain <= 0.0) continue;
    const double density = gain / static_cast<double>(p.size[g]);
    if (heap.empty() || density >= heap.front().first) {
      ev.add(n, g);
      left[n] -= p.size[g];
      if (left[n] < min_size && !full[n]) {
        full[n] = 1;
        dead += entries_of[n];
        if (2 * dead > heap.size()) {
          std::erase_if(heap, [&](const Entry& en) { return full[en.second >> 32] != 0; });
          std::make_heap(heap.begin(), heap.end());
          for (std::size_t m = 0; m < p.num_nodes; ++m)
            if (full[m]) entries_of[m] = 0;
          dead = 0;
        }
      }
    } else {
      heap.emplace_back(density, packed);
      std::push_heap(heap.begin(), heap.end());
      ++entries_of[n];
    }
  }
  if (best_single > ev.reduction()) {
    note = "best single item beat the density greedy";
    Placement x(p.num_nodes, p.num_experts);
    x.set(single_n, single_g, true);
    return x;
  }
  return ev.placement();
}

// K = 1 surrogate built from the marginals: singleton sets weighted by popularity.
Problem marginal_problem(const Problem& p) {
  Problem q;  // everything but the sets (copying those would cost more than the greedy)
  q.num_nodes = p.num_nodes;
  q.num_clients = p.num_clients;
  q.num_layers = p.num_layers;
  q.num_experts = p.num_experts;
  q.layer_begin = p.layer_begin;
  q.layer_of = p.layer_of;
  q.size = p.size;
  q.budget = p.budget;
  q.serve = p.serve;
  q.fallback = p.fallback;
  q.client_weight = p.client_weight;
  q.popularity = p.popularity;
  q.uniform_sizes = p.uniform_sizes;
  q.top_k = 1;
  q.sets_begin.assign(p.num_clients * p.num_layers + 1, 0);
  for (std::size_t u = 0; u < p.num_clients; ++u)
    for (std::size_t l = 0; l < p.num_layers; ++l) {
      for (std::size_t g = p.layer_begin[l]; g < p.layer_begin[l + 1]; ++g) {
        const double w = p.popularity[u * p.num_experts + g];
        if (w <= 0.0) continue;
        q.set_members.push_back(static_cast<std::uint32_t>(g));
        q.set_weight.push_back(w);
        q.set_client.push_back(static_cast<std::uint32_t>(u));
      }
      q.sets_begin[u * p.num_layers + l + 1] = q.set_weight.size();
    }
  q.index_begin.assign(p.num_clients * p.num_experts + 1, 0);
  for (std::size_t s = 0; s < q.num_sets(); ++s) ++q.index_begin[q.set_client[s] * p.num_experts + q.set_members[s] + 1];
  std::partial_sum(q.index_begin.begin(), q.index_begin.end(), q.index_begin.begin());
  q.index_sets.resize(q.num_sets());
  std::vector<std::size_t> fill(q.index_begin.begin(), q.index_begin.end() - 1);
  for (std::size_t s = 0; s < q.num_sets(); ++s)
    q.index_sets[fill[q.set_client[s] * p.num_experts + q.set_members[s]]++] = static_cast<std::uint32_t>(s);
  return q;
}

constexpr std::size_t k_restart_size_limit = 256;  // nodes x experts
constexpr std::uint64_t k_restarts = 16;

struct Ascent {
  Placement placement;
  double objective = 0.0;
  std::size_t passes = 0;
  std::size_t steps = 0, exact_fallbacks = 0;
  double combine_seconds = 0.0;
  bool polished = false;  // small instances: swaps and exchanges improved the ascent's end
};

// Best-response passes over the nodes from `start` (MODEL.md 3.3 steps 1-3).
Ascent best_response(const Problem& p, const SolveOptions& opt, Combine combine, const Placement& start) {
  Evaluator ev(p, start);
  // Node order: expected benefit to the clients, ties by id.
  std::vector<double> benefit(p.num_nodes, 0.0);
  for (std::size_t n = 0; n < p.num_nodes; ++n)
    for (std::size_t u = 0; u < p.num_clients; ++u)
      for (std::size_t l = 0; l < p.num_layers; ++l)
        benefit[n] += p.client_weight[u] * std::max(0.0, p.fallback_latency(u, l) - p.serve_latency(u, n, l));
  std::vector<std::size_t> order(p.num_nodes);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return benefit[a] > benefit[b]; });

  SingleNodeOptions sn;
  sn.combine = combine;
  sn.epsilon = opt.epsilon;
  sn.migration = opt.migration;
  const double mu = opt.migration.current != nullptr ? opt.migration.seconds_per_byte : 0.0;
  auto objective = [&]() { return ev.reduction() - mu * migration_bytes(p, ev.placement(), opt.migration); };
  double j = objective();
  const double tolerance = 1e-12 * std::max(ev.empty_latency(), 1e-300);
  SingleNodeCache cache;
  std::vector<std::uint8_t> wanted(p.num_experts, 0);
  std::vector<std::uint32_t> removed, added;
  std::size_t passes = 0, steps = 0, fallbacks = 0;
  double combine_seconds = 0.0;
  while (passes < opt.max_passes) {
    ++passes;
    double pass_gain = 0.0;
    for (auto n : order) {
      const SingleNodeResult res = solve_single_node(ev, n, sn, &cache);
      ++steps;
      combine_seconds += res.combine_seconds;
      if (combine == Combine::fast && res.used_exact_dp) ++fallbacks;
      // Apply only the difference (experts kept on n are not removed and re-added).
      std::fill(wanted.begin(), wanted.end(), 0);
      for (auto g : res.experts) wanted[g] = 1;
      removed.clear();
      added.clear();
      for (std::size_t g = 0; g < p.num_experts; ++g) {
        const bool has = ev.placement().has(n, g);
        if (has && !wanted[g]) removed.push_back(static_cast<std::uint32_t>(g));
        if (!has && wanted[g]) added.push_back(static_cast<std::uint32_t>(g));
      }
      if (removed.empty() && added.empty()) continue;
      for (auto g : removed) ev.remove(n, g);
      for (auto g : added) ev.add(n, g);
      const double next = objective();
      if (next > j + tolerance) {
        pass_gain += next - j;
        j = next;
      } else {
        for (auto g : added) ev.remove(n, g);
        for (auto g : removed) ev.add(n, g);
      }
    }
    const double stop = combine == Combine::fast ? std::max(opt.min_relative_gain, opt.fast_min_relative_gain)
                                                 : opt.min_relative_gain;
    if (pass_gain <= stop * std::max(j, 0.0) || pass_gain <= tolerance) break;
  }
  return Ascent{ev.placement(), j, passes, steps, fallbacks, combine_seconds};
}

// Small instances: a final local search over moves that a single node's step cannot make
// or may miss: a swap (one expert out of a node, another in), an exchange (two nodes trade
// one expert each) and a fill (an expert added where the budget allows). First improvement,
// until a sweep finds none (at most k_polish_sweeps sweeps). J never decreases.
// Cost per sweep: O(N * G * (held + N * held)) evaluator moves; used where N * G <= 256.
constexpr std::size_t k_polish_sweeps = 50;

void polish(const Problem& p, const SolveOptions& opt, Ascent& a) {
  Evaluator ev(p, a.placement);
  const double mu = opt.migration.current != nullptr ? opt.migration.seconds_per_byte : 0.0;
  auto pay = [&](std::size_t n, std::size_t g) {  // migration bytes of holding g on n
    return opt.migration.current != nullptr && !opt.migration.current->has(n, g) ? static_cast<double>(p.size[g])
                                                                                  : 0.0;
  };
  double moved = migration_bytes(p, a.placement, opt.migration);
  double j = ev.reduction() - mu * moved;
  const double tolerance = 1e-12 * std::max(ev.empty_latency(), 1e-300);
  std::vector<std::uint64_t> used(p.num_nodes, 0);
  for (std::size_t n = 0; n < p.num_nodes; ++n) used[n] = ev.placement().bytes_on(p, n);
  // Applies `out` (node, expert) removals and `in` additions; keeps them when J improves.
  using Move = std::vector<std::pair<std::size_t, std::size_t>>;
  auto attempt = [&](const Move& out, const Move& in) {
    std::vector<std::uint64_t> next = used;
    double next_moved = moved;
    for (auto [n, g] : out) {
      next[n] -= p.size[g];
      next_moved -= pay(n, g);
    }
    for (auto [n, g] : in) {
      next[n] += p.size[g];
      next_moved += pay(n, g);
    }
    for (auto [n, g] : in)
      if (next[n] > p.budget[n]) return false;
    for (auto [n, g] : out) ev.remove(n, g);
    for (auto [n, g] : in) ev.add(n, g);
    const double nj = ev.reduction() - mu * next_moved;
    if (nj > j + tolerance) {
      j = nj;
      used = std::move(next);
      moved = next_moved;
      return true;
    }
    for (auto [n, g] : in) ev.remove(n, g);
    for (auto [n, g] : out) ev.add(n, g);
    return false;
  };
  const std::size_t G = p.num_experts;
  for (std::size_t sweep = 0; sweep < k_polish_sweeps; ++sweep) {
    bool improved = false;
    for (std::size_t n = 0; n < p.num_nodes; ++n)
      for (std::size_t g = 0; g < G; ++g) {
        if (ev.placement().has(n, g)) continue;
        if (attempt({}, {{n, g}})) {
          improved = true;
          continue;
        }
        for (std::size_t r = 0; r < G && !ev.placement().has(n, g); ++r)
          if (ev.placement().has(n, r) && attempt({{n, r}}, {{n, g}})) improved = true;
      }
    for (std::size_t n = 0; n < p.num_nodes; ++n)
      for (std::size_t m = n + 1; m < p.num_nodes; ++m)
        for (std::size_t g = 0; g < G; ++g)
          for (std::size_t h = 0; h < G; ++h) {
            const auto& x = ev.placement();
            if (!x.has(n, g) || x.has(m, g) || !x.has(m, h) || x.has(n, h)) continue;
            if (attempt({{n, g}, {m, h}}, {{m, g}, {n, h}})) improved = true;
          }
    if (!improved) break;
  }
  a.placement = ev.placement();
  a.objective = j;
}

// Large instances: node-local fills and swaps (local_swaps.hpp) on every node in turn,
// until a sweep finds none (at most k_swap_sweeps). J never decreases.
constexpr std::size_t k_swap_sweeps = 10;

std::size_t swap_polish(const Problem& p, const SolveOptions& opt, Ascent& a) {
  Evaluator ev(p, a.placement);
  LocalSwaps swaps(ev, opt.migration);
  std::size_t moves = 0;
  for (std::size_t sweep = 0; sweep < k_swap_sweeps; ++sweep) {
    const std::size_t before = moves;
    for (std::size_t n = 0; n < p.num_nodes; ++n) moves += swaps.improve(n);
    if (moves == before) break;
  }
  a.placement = ev.placement();
  a.objective = ev.reduction() - (opt.migration.current != nullptr
                                      ? opt.migration.seconds_per_byte * migration_bytes(p, a.placement, opt.migration)
                                      : 0.0);
  return moves;
}

Placement greedy_placement(const Problem& p, std::string& note);
Problem marginal_problem(const Problem& p);

// sgd: best-response passes from the warm start (or nothing) and from the best of the
// cheap baselines (popularity, popularity-distinct, layer-uniform, greedy-marginal);
// the better end point wins. The second start lets several nodes' partial copies of a
// co-activated set combine, which node-by-node moves from nothing cannot discover, and
// makes sgd never worse than those baselines.
Expected<SolveResult, SolveError> successive_greedy(const Problem& p, const SolveOptions& opt, Combine combine) {
  Placement start(p.num_nodes, p.num_experts);
  if (opt.warm_start != nullptr) {
    if (!is_feasible(p, *opt.warm_start))
      return Unexpected(SolveError{"the warm-start placement does not fit this instance (shape or budgets)"});
    start = *opt.warm_start;
  }
  if (opt.migration.current != nullptr &&
      (opt.migration.current->num_nodes != p.num_nodes || opt.migration.current->num_experts != p.num_experts))
    return Unexpected(SolveError{"the current placement for the migration cost has the wrong shape"});
  const double mu = opt.migration.current != nullptr ? opt.migration.seconds_per_byte : 0.0;
  Evaluator ev(p, start);
  auto objective_of = [&](const Placement& x) {
    ev.reset(x);
    return ev.reduction() - mu * migration_bytes(p, x, opt.migration);
  };
  std::string ignored;
  const Problem marginal = marginal_problem(p);
  Placement seed = start;
  double seed_j = ev.reduction() - mu * migration_bytes(p, start, opt.migration);
  for (Placement cand : {popularity_placement(p), popularity_distinct_placement(p), layer_uniform_placement(p),
                         greedy_placement(marginal, ignored), random_placement(p, opt.seed)}) {
    const double j = objective_of(cand);
    if (j > seed_j) {
      seed_j = j;
      seed = std::move(cand);
    }
  }
  const bool small = p.num_nodes * p.num_experts <= k_restart_size_limit;
  std::size_t node_steps = 0;  // over every ascent, for the result's work figures
  double combine_seconds = 0.0;
  auto ascend = [&](const Placement& from_x) {
    Ascent a = best_response(p, opt, combine, from_x);
    node_steps += a.steps;
    combine_seconds += a.combine_seconds;
    if (small) {
      const double before = a.objective;
      polish(p, opt, a);
      a.polished = a.objective > before;
    }
    return a;
  };
  Ascent best = ascend(start);
  std::string from = opt.warm_start != nullptr ? "the warm start" : "nothing";
  if (!(seed == start) && (small || seed_j > best.objective)) {
    Ascent other = ascend(seed);
    if (other.objective > best.objective) {
      best = std::move(other);
      from = "the best baseline";
    }
  }
  // A node left empty by the ascent found nothing worth its budget on its own: when nodes
  // are too small to hold a set in every layer (fewer than K slots per layer), that is where
  // sets must be completed by several nodes together, which the cooperative start does.
  // Only then, since it costs about one node step's time.
  const double mean_size =
      p.num_experts > 0 ? std::accumulate(p.size.begin(), p.size.end(), 0.0) / static_cast<double>(p.num_experts) : 1.0;
  bool cramped = false, idle_node = false;
  for (std::size_t n = 0; n < p.num_nodes; ++n) {
    cramped = cramped || static_cast<double>(p.budget[n]) < mean_size * static_cast<double>(p.top_k * p.num_layers);
    idle_node = idle_node || (best.placement.bytes_on(p, n) == 0 && p.budget[n] >= mean_size);
  }
  if (cramped && idle_node) {
    const Placement coop = completion_placement(p);
    if (objective_of(coop) > best.objective) {
      Ascent other = ascend(coop);
      if (other.objective > best.objective) {
        best = std::move(other);
        from = "the cooperative start";
      }
    }
  }
  // Small instances: also restart from seeded random placements (cheap there, and it
  // finds cross-node combinations that no single-node move can start).
  if (small) {
    for (std::uint64_t r = 0; r < k_restarts; ++r) {
      Ascent other = ascend(random_placement(p, opt.seed * 1000003 + r));
      if (other.objective > best.objective) {
        best = std::move(other);
        from = "random restart " + std::to_string(r);
      }
    }
  }
  // Large instances: node-local swaps on the chosen end point (small ones were polished).
  if (!small) best.polished = swap_polish(p, opt, best) > 0;
  SolveResult r = finish(p, best.placement, opt);
  r.passes = best.passes;
  r.node_steps = node_steps;
  r.combine_seconds = combine_seconds;
  r.note = "best-response passes: " + std::to_string(best.passes) + ", from " + from;
  if (best.polished) r.note += small ? ", improved by swaps and exchanges" : ", improved by swaps";
  if (combine == Combine::fast)
    r.note += "; " + std::to_string(best.exact_fallbacks) + "/" + std::to_string(best.steps) +
              " node steps ran the pruned DP (certificates failed)";
  return r;
}

Expected<SolveResult, SolveError> brute_force(const Problem& p, const SolveOptions& opt) {
  const std::size_t G = p.num_experts;
  if (G > 24)
    return Unexpected(SolveError{"brute-force handles at most 24 experts in total; this instance has " +
                                 std::to_string(G) + " (use sgd; the MILP reference is in slimcache-solver-report)"});
  std::vector<std::vector<std::uint32_t>> maximal(p.num_nodes);
  double combos = 1.0;
  for (std::size_t n = 0; n < p.num_nodes; ++n) {
    for (std::uint32_t mask = 0; mask < (1U << G); ++mask) {
      std::uint64_t used = 0;
      for (std::size_t g = 0; g < G; ++g)
        if (mask >> g & 1U) used += p.size[g];
      if (used > p.budget[n]) continue;
      bool is_max = true;
      for (std::size_t g = 0; g < G && is_max; ++g)
        if (!(mask >> g & 1U) && used + p.size[g] <= p.budget[n]) is_max = false;
      if (is_max) maximal[n].push_back(mask);
    }
    combos *= static_cast<double>(maximal[n].size());
    if (combos > static_cast<double>(opt.brute_force_limit))
      return Unexpected(SolveError{"brute-force refuses: more than " + std::to_string(opt.brute_force_limit) +
                                   " placements to enumerate (use sgd; the MILP reference is in slimcache-solver-report)"});
  }
  Evaluator ev(p);
  double best = ev.latency();
  Placement best_x = ev.placement();
  auto apply = [&](std::size_t n, std::uint32_t mask, bool on) {
    for (std::size_t g = 0; g < G; ++g)
      if (mask >> g & 1U) {
        if (on) ev.add(n, g);
        else ev.remove(n, g);
      }
  };
  auto recurse = [&](auto&& self, std::size_t n) -> void {
    if (n == p.num_nodes) {
      if (ev.latency() < best - 1e-15) {
        best = ev.latency();
        best_x = ev.placement();
      }
      return;
    }
    for (auto mask : maximal[n]) {
      apply(n, mask, true);
      self(self, n + 1);
      apply(n, mask, false);
    }
  };
  recurse(recurse, 0);
  SolveResult r = finish(p, best_x, opt);
  r.status = SolveStatus::optimal;
  r.note = "exact: enumerated " + std::to_string(static_cast<std::uint64_t>(combos)) + " placements";
  return r;
}

}  // namespace

std::span<const Algorithm> all_algorithms() { return k_all; }

std::string_view algorithm_name(Algorithm a) {
  for (const auto& [alg, name] : k_names)
    if (alg == a) return name;
  return "unknown";
}

std::optional<Algorithm> find_algorithm(std::string_view name) {
  for (const auto& [alg, n] : k_names)
    if (n == name) return alg;
  return std::nullopt;
}

Expected<SolveResult, SolveError> solve(const Problem& p, Algorithm algorithm, const SolveOptions& opt) {
  switch (algorithm) {
    case Algorithm::sgd: return successive_greedy(p, opt, Combine::exact);
    case Algorithm::sgd_fast: return successive_greedy(p, opt, Combine::fast);
    case Algorithm::brute_force: return brute_force(p, opt);
    case Algorithm::random: return finish(p, random_placement(p, opt.seed), opt);
    case Algorithm::popularity: return finish(p, popularity_placement(p), opt);
    case Algorithm::popularity_distinct: return finish(p, popularity_distinct_placement(p), opt);
    case Algorithm::layer_uniform: return finish(p, layer_uniform_placement(p), opt);
    case Algorithm::greedy: {
      std::string note;
      Placement x = greedy_placement(p, note);
      SolveResult r = finish(p, x, opt);
      r.note = note;
      if (note.rfind("exact", 0) == 0) r.status = SolveStatus::optimal;
      return r;
    }
    case Algorithm::greedy_marginal: {
      const Problem q = marginal_problem(p);
      std::string note;
      Placement x = greedy_placement(q, note);
      SolveResult r = finish(p, x, opt);
      r.note = "K=1 greedy on marginals";
      return r;
    }
  }
  return Unexpected(SolveError{"unknown algorithm"});
}

}  // namespace slimcache::solver
