#include "solver/problem.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>

namespace slimcache::solver {

namespace {

Unexpected<InstanceError> fail(std::string key, std::string message) {
  return Unexpected(InstanceError{std::move(key), std::move(message)});
}

bool finite_non_negative(double v) { return std::isfinite(v) && v >= 0.0; }

std::string stats_key(std::size_t u, std::size_t l) {
  return "stats[client=" + std::to_string(u) + ",layer=" + std::to_string(l) + "]";
}

}  // namespace

Expected<void, InstanceError> validate(const Instance& in) {
  const std::size_t L = in.num_layers();
  if (L == 0) return fail("model.layers", "the model has no layers");
  if (in.top_k == 0) return fail("model.top_k", "top_k must be at least 1");
  if (in.top_k > 64) return fail("model.top_k", "top_k above 64 is not supported");
  for (std::size_t l = 0; l < L; ++l) {
    const auto& sizes = in.expert_bytes[l];
    if (sizes.size() < in.top_k)
      return fail("model.experts", "layer " + std::to_string(l) + " has " + std::to_string(sizes.size()) +
                                       " experts, fewer than top_k = " + std::to_string(in.top_k));
    if (sizes.size() > 65536) return fail("model.experts", "at most 65536 experts per layer");
    for (auto s : sizes)
      if (s == 0) return fail("model.expert_bytes", "layer " + std::to_string(l) + ": expert size must be positive");
  }
  if (!finite_non_negative(in.hidden_state_bytes)) return fail("model.hidden_state_bytes", "must be finite and >= 0");
  if (in.nodes.empty()) return fail("nodes", "at least one node is needed");
  if (in.clients.empty()) return fail("clients", "at least one client is needed");
  for (std::size_t n = 0; n < in.nodes.size(); ++n) {
    const auto& node = in.nodes[n];
    const std::string key = "nodes[" + std::to_string(n) + "]";
    if (node.exec_s.size() != L)
      return fail(key + ".exec_s", "needs one value per layer (" + std::to_string(L) + "), has " +
                                       std::to_string(node.exec_s.size()));
    for (double c : node.exec_s)
      if (!finite_non_negative(c)) return fail(key + ".exec_s", "must be finite and >= 0");
  }
  double total_weight = 0.0;
  for (std::size_t u = 0; u < in.clients.size(); ++u) {
    const auto& c = in.clients[u];
    const std::string key = "clients[" + std::to_string(u) + "]";
    if (!finite_non_negative(c.weight)) return fail(key + ".weight", "must be finite and >= 0");
    total_weight += c.weight;
    if (c.node && *c.node >= in.nodes.size()) return fail(key + ".node", "names a node that does not exist");
    if (c.fallback_s.size() != L)
      return fail(key + ".fallback_s", "needs one value per layer (" + std::to_string(L) + ")");
    for (double d : c.fallback_s)
      if (!finite_non_negative(d)) return fail(key + ".fallback_s", "must be finite and >= 0");
  }
  if (!(total_weight > 0.0)) return fail("clients", "client weights sum to zero");
  if (in.links.size() != in.clients.size() * in.nodes.size())
    return fail("links", "needs clients x nodes entries");
  for (std::size_t i = 0; i < in.links.size(); ++i) {
    const auto& lk = in.links[i];
    if (!finite_non_negative(lk.rtt_s) || !finite_non_negative(lk.bandwidth_bytes_per_s))
      return fail("links[client=" + std::to_string(i / in.nodes.size()) + ",node=" + std::to_string(i % in.nodes.size()) + "]",
                  "rtt and bandwidth must be finite and >= 0");
  }
  if (in.stats.size() != in.clients.size() * L)
    return fail("stats", "needs statistics for every client and layer (" + std::to_string(in.clients.size() * L) +
                             " entries), has " + std::to_string(in.stats.size()));
  for (std::size_t u = 0; u < in.clients.size(); ++u) {
    for (std::size_t l = 0; l < L; ++l) {
      const auto& st = in.stat(u, l);
      const std::string key = stats_key(u, l);
      const std::size_t E = in.expert_bytes[l].size();
      if (st.sets.size() % in.top_k != 0) return fail(key + ".sets", "every set needs exactly top_k ids");
      const std::size_t count = st.sets.size() / in.top_k;
      if (st.weights.size() != count) return fail(key + ".weights", "needs one weight per set");
      if (count == 0) return fail(key + ".sets", "no sampled sets");
      double w = 0.0;
      for (std::size_t s = 0; s < count; ++s) {
        if (!finite_non_negative(st.weights[s])) return fail(key + ".weights", "must be finite and >= 0");
        w += st.weights[s];
        for (std::size_t i = 0; i < in.top_k; ++i) {
          const auto e = st.sets[s * in.top_k + i];
          if (e >= E)
            return fail(key + ".sets[" + std::to_string(s) + "]",
                        "expert " + std::to_string(e) + " does not exist (layer has " + std::to_string(E) + ")");
          for (std::size_t j = 0; j < i; ++j)
            if (st.sets[s * in.top_k + j] == e)
              return fail(key + ".sets[" + std::to_string(s) + "]", "expert " + std::to_string(e) + " repeated");
        }
      }
      if (!(w > 0.0)) return fail(key + ".weights", "weights sum to zero");
      if (!st.marginals.empty()) {
        if (st.marginals.size() != E) return fail(key + ".marginals", "needs one value per expert of the layer");
        for (double p : st.marginals)
          if (!finite_non_negative(p)) return fail(key + ".marginals", "must be finite and >= 0");
      }
    }
  }
  return {};
}

Expected<Problem, InstanceError> build_problem(const Instance& in) {
  SLIM_TRY_VOID(validate(in));
  Problem p;
  const std::size_t L = in.num_layers(), N = in.nodes.size(), U = in.clients.size(), K = in.top_k;
  p.num_nodes = N;
  p.num_clients = U;
  p.num_layers = L;
  p.top_k = K;
  p.layer_begin.assign(L + 1, 0);
  for (std::size_t l = 0; l < L; ++l) p.layer_begin[l + 1] = p.layer_begin[l] + in.expert_bytes[l].size();
  const std::size_t G = p.layer_begin[L];
  p.num_experts = G;
  p.layer_of.resize(G);
  p.size.resize(G);
  for (std::size_t l = 0; l < L; ++l)
    for (std::size_t e = 0; e < in.expert_bytes[l].size(); ++e) {
      p.layer_of[p.layer_begin[l] + e] = static_cast<std::uint32_t>(l);
      p.size[p.layer_begin[l] + e] = in.expert_bytes[l][e];
    }
  p.uniform_sizes = std::all_of(p.size.begin(), p.size.end(), [&](auto s) { return s == p.size[0]; });
  for (const auto& node : in.nodes) p.budget.push_back(node.budget_bytes);

  double total_weight = 0.0;
  for (const auto& c : in.clients) total_weight += c.weight;
  for (const auto& c : in.clients) p.client_weight.push_back(c.weight / total_weight);

  p.serve.assign(U * N * L, k_unreachable);
  p.fallback.assign(U * L, 0.0);
  for (std::size_t u = 0; u < U; ++u) {
    for (std::size_t l = 0; l < L; ++l) p.fallback[u * L + l] = in.clients[u].fallback_s[l];
    for (std::size_t n = 0; n < N; ++n) {
      const auto& lk = in.link(u, n);
      const bool local = in.clients[u].node && *in.clients[u].node == n;
      for (std::size_t l = 0; l < L; ++l) {
        double d = k_unreachable;
        if (local) {
          d = in.nodes[n].exec_s[l];
        } else if (lk.bandwidth_bytes_per_s > 0.0) {
          d = lk.rtt_s + 2.0 * in.hidden_state_bytes / lk.bandwidth_bytes_per_s + in.nodes[n].exec_s[l];
        }
        p.serve[(u * N + n) * L + l] = d;
      }
    }
  }

  // Sets, merged per (client, layer), then the (client, expert) -> sets index.
  p.popularity.assign(U * G, 0.0);
  p.sets_begin.assign(U * L + 1, 0);
  std::vector<std::uint32_t> key(K);
  for (std::size_t u = 0; u < U; ++u) {
    for (std::size_t l = 0; l < L; ++l) {
      const auto& st = in.stat(u, l);
      const std::size_t count = st.sets.size() / K;
      double w = 0.0;
      for (double x : st.weights) w += x;
      std::map<std::vector<std::uint32_t>, double> merged;
      for (std::size_t s = 0; s < count; ++s) {
        if (st.weights[s] <= 0.0) continue;
        for (std::size_t i = 0; i < K; ++i) key[i] = static_cast<std::uint32_t>(p.layer_begin[l] + st.sets[s * K + i]);
        std::sort(key.begin(), key.end());
        merged[key] += st.weights[s] / w;
      }
      const double lambda = p.client_weight[u];
      for (const auto& [members, pi] : merged) {
        p.set_members.insert(p.set_members.end(), members.begin(), members.end());
        p.set_weight.push_back(lambda * pi);
        p.set_client.push_back(static_cast<std::uint32_t>(u));
        if (st.marginals.empty())
          for (auto g : members) p.popularity[u * G + g] += lambda * pi;
      }
      if (!st.marginals.empty())
        for (std::size_t e = 0; e < st.marginals.size(); ++e) p.popularity[u * G + p.layer_begin[l] + e] = lambda * st.marginals[e];
      p.sets_begin[u * L + l + 1] = p.set_weight.size();
    }
  }
  p.index_begin.assign(U * G + 1, 0);
  for (std::size_t s = 0; s < p.num_sets(); ++s)
    for (auto g : p.members(s)) ++p.index_begin[p.set_client[s] * G + g + 1];
  std::partial_sum(p.index_begin.begin(), p.index_begin.end(), p.index_begin.begin());
  p.index_sets.resize(p.index_begin.back());
  std::vector<std::size_t> fill(p.index_begin.begin(), p.index_begin.end() - 1);
  for (std::size_t s = 0; s < p.num_sets(); ++s)
    for (auto g : p.members(s)) p.index_sets[fill[p.set_client[s] * G + g]++] = static_cast<std::uint32_t>(s);
  return p;
}

std::uint64_t Placement::bytes_on(const Problem& p, std::size_t n) const {
  std::uint64_t b = 0;
  for (std::size_t g = 0; g < num_experts; ++g)
    if (has(n, g)) b += p.size[g];
  return b;
}

std::size_t Placement::count() const {
  return static_cast<std::size_t>(std::count(bits.begin(), bits.end(), std::uint8_t{1}));
}

}  // namespace slimcache::solver
