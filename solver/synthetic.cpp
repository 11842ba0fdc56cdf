#include "solver/synthetic.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "solver/random.hpp"

namespace slimcache::solver {

namespace {

double normal(SplitMix64& rng) {
  const double u1 = std::max(rng.uniform(), 1e-300), u2 = rng.uniform();
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
}

std::size_t draw(const std::vector<double>& cdf, SplitMix64& rng) {
  const double r = rng.uniform() * cdf.back();
  const auto it = std::upper_bound(cdf.begin(), cdf.end(), r);
  return std::min<std::size_t>(static_cast<std::size_t>(it - cdf.begin()), cdf.size() - 1);
}

std::vector<double> to_cdf(const std::vector<double>& w) {
  std::vector<double> c(w.size());
  std::partial_sum(w.begin(), w.end(), c.begin());
  return c;
}

LayerStats synthetic_layer(std::size_t E, std::size_t K, std::size_t samples, const std::vector<double>& pop,
                           const std::vector<std::size_t>& group_of, const std::vector<std::vector<std::size_t>>& groups,
                           double coactivation, SplitMix64& rng) {
  LayerStats st;
  const auto cdf = to_cdf(pop);
  std::vector<std::vector<double>> group_cdf;
  for (const auto& grp : groups) {
    std::vector<double> w;
    for (auto e : grp) w.push_back(pop[e]);
    group_cdf.push_back(to_cdf(w));
  }
  std::vector<std::uint8_t> taken(E, 0);
  std::vector<ExpertId> set;
  for (std::size_t s = 0; s < samples; ++s) {
    set.clear();
    const std::size_t anchor = draw(cdf, rng);
    set.push_back(static_cast<ExpertId>(anchor));
    taken[anchor] = 1;
    const std::size_t grp = group_of[anchor];
    for (std::size_t tries = 0; set.size() < K && tries < 64 * K; ++tries) {
      std::size_t e;
      if (rng.uniform() < coactivation) e = groups[grp][draw(group_cdf[grp], rng)];
      else e = draw(cdf, rng);
      if (taken[e]) continue;
      taken[e] = 1;
      set.push_back(static_cast<ExpertId>(e));
    }
    for (std::size_t e = 0; set.size() < K && e < E; ++e)  // bounded fallback
      if (!taken[e]) {
        taken[e] = 1;
        set.push_back(static_cast<ExpertId>(e));
      }
    for (auto e : set) taken[e] = 0;
    st.sets.insert(st.sets.end(), set.begin(), set.end());
    st.weights.push_back(1.0);
  }
  return st;
}

}  // namespace

std::vector<LayerStats> stats_from_trace(const RoutingTrace& trace, std::size_t first, std::size_t last,
                                         std::size_t samples) {
  std::vector<LayerStats> out(trace.num_layers);
  const std::size_t E = trace.num_experts, K = trace.top_k;
  last = std::min(last, trace.num_tokens());
  const std::size_t tokens = last > first ? last - first : 0;
  for (std::size_t l = 0; l < trace.num_layers; ++l) {
    auto& st = out[l];
    st.marginals.assign(E, 0.0);
    for (std::size_t t = first; t < last; ++t)
      for (auto e : trace.set(t, l)) st.marginals[e] += 1.0 / static_cast<double>(tokens);
    const std::size_t take = std::min(samples, tokens);
    for (std::size_t i = 0; i < take; ++i) {
      const std::size_t t = first + i * tokens / take;
      const auto s = trace.set(t, l);
      st.sets.insert(st.sets.end(), s.begin(), s.end());
      st.weights.push_back(1.0);
    }
    (void)K;
  }
  return out;
}

Expected<Instance, GeneratorError> generate_instance(const ModelShape& shape, const GeneratorOptions& opt,
                                                     const RoutingTrace* trace) {
  if (opt.nodes == 0 || opt.clients == 0) return Unexpected(GeneratorError{"need at least one node and one client"});
  if (!(opt.budget_fraction >= 0.0) || !std::isfinite(opt.budget_fraction))
    return Unexpected(GeneratorError{"budget fraction must be a finite number >= 0"});
  if (opt.samples_per_layer == 0) return Unexpected(GeneratorError{"samples per layer must be at least 1"});
  if (trace != nullptr) {
    if (trace->num_layers != shape.layers || trace->top_k != shape.top_k || trace->num_experts > shape.experts)
      return Unexpected(GeneratorError{
          "the trace has " + std::to_string(trace->num_layers) + " layers, top-" + std::to_string(trace->top_k) +
          " over " + std::to_string(trace->num_experts) + " experts; model " + std::string(shape.name) + " has " +
          std::to_string(shape.layers) + " layers, top-" + std::to_string(shape.top_k) + " over " +
          std::to_string(shape.experts)});
    if (trace->num_tokens() < opt.clients)
      return Unexpected(GeneratorError{"the trace has fewer tokens than clients"});
  }
  SplitMix64 rng(opt.seed);
  const auto& pr = opt.profile;
  Instance in;
  in.model = std::string(shape.name);
  in.top_k = shape.top_k;
  const std::size_t L = shape.layers, E = shape.experts, K = shape.top_k, N = opt.nodes, U = opt.clients;
  in.expert_bytes.assign(L, std::vector<std::uint64_t>(E, shape.expert_bytes()));
  in.hidden_state_bytes = static_cast<double>(shape.hidden_state_bytes());
  const double expert = static_cast<double>(shape.expert_bytes());
  const double total = expert * static_cast<double>(L * E);
  auto jitter = [&]() { return 1.0 + pr.jitter * (2.0 * rng.uniform() - 1.0); };
  auto is_fast = [](std::size_t n) { return n % 2 == 0; };
  auto on_ethernet = [&](std::size_t n) { return n < (N + 1) / 2; };
  for (std::size_t n = 0; n < N; ++n) {
    Node node;
    node.name = "node" + std::to_string(n);
    node.budget_bytes = static_cast<std::uint64_t>(opt.budget_fraction * total / static_cast<double>(N));
    const double bps = is_fast(n) ? pr.fast_compute_bytes_per_s : pr.slow_compute_bytes_per_s;
    node.exec_s.assign(L, expert / bps);
    in.nodes.push_back(std::move(node));
  }
  for (std::size_t u = 0; u < U; ++u) {
    Client c;
    c.name = "client" + std::to_string(u);
    c.weight = 1.0;
    if (u < N) c.node = u;
    const double local_exec = u < N ? in.nodes[u].exec_s[0] : expert / pr.slow_compute_bytes_per_s;
    c.fallback_s.assign(L, expert / pr.fallback_bytes_per_s + local_exec);
    in.clients.push_back(std::move(c));
  }
  for (std::size_t u = 0; u < U; ++u)
    for (std::size_t n = 0; n < N; ++n) {
      const bool client_eth = u < N && on_ethernet(u);
      const bool eth = client_eth && on_ethernet(n);
      Link lk;
      lk.rtt_s = (eth ? pr.ethernet_rtt_s : pr.wifi_rtt_s) * jitter();
      lk.bandwidth_bytes_per_s = (eth ? pr.ethernet_bytes_per_s : pr.wifi_bytes_per_s) * jitter();
      in.links.push_back(lk);
    }
  in.stats.resize(U * L);
  if (trace != nullptr) {
    const std::size_t T = trace->num_tokens();
    for (std::size_t u = 0; u < U; ++u) {
      auto per_layer = stats_from_trace(*trace, u * T / U, (u + 1) * T / U, opt.samples_per_layer);
      for (std::size_t l = 0; l < L; ++l) {
        per_layer[l].marginals.resize(E, 0.0);
        in.stats[u * L + l] = std::move(per_layer[l]);
      }
    }
    return in;
  }
  for (std::size_t l = 0; l < L; ++l) {
    const double alpha = opt.zipf_min + (opt.zipf_max - opt.zipf_min) * rng.uniform();
    std::vector<std::size_t> perm(E);
    std::iota(perm.begin(), perm.end(), std::size_t{0});
    rng.shuffle(perm);
    std::vector<double> base(E);
    for (std::size_t r = 0; r < E; ++r) base[perm[r]] = 1.0 / std::pow(static_cast<double>(r + 1), alpha);
    std::vector<std::size_t> order(E);
    std::iota(order.begin(), order.end(), std::size_t{0});
    rng.shuffle(order);
    const std::size_t gsize = std::max<std::size_t>(2 * K, 2);
    std::vector<std::size_t> group_of(E);
    std::vector<std::vector<std::size_t>> groups((E + gsize - 1) / gsize);
    for (std::size_t i = 0; i < E; ++i) {
      group_of[order[i]] = i / gsize;
      groups[i / gsize].push_back(order[i]);
    }
    for (std::size_t u = 0; u < U; ++u) {
      std::vector<double> pop(base);
      for (auto& p : pop) p *= std::exp(opt.client_skew * normal(rng));
      in.stats[u * L + l] = synthetic_layer(E, K, opt.samples_per_layer, pop, group_of, groups, opt.coactivation, rng);
    }
  }
  return in;
}

}  // namespace slimcache::solver
