#include "solver/evaluator.hpp"

#include <algorithm>

namespace slimcache::solver {

Evaluator::Evaluator(const Problem& problem) : m_p(&problem), m_x(problem.num_nodes, problem.num_experts) {
  reset(m_x);
  m_empty_latency = m_latency;
}

Evaluator::Evaluator(const Problem& problem, const Placement& x) : m_p(&problem) {
  // T(empty): every member of a set waits D0 of its layer, so the set's latency is D0 (the
  // same sum, in the same order, as reset() of the empty placement computes).
  const Problem& p = problem;
  double empty = 0.0;
  for (std::size_t s = 0; s < p.num_sets(); ++s) {
    double worst = 0.0;
    if (p.top_k > 0) worst = std::max(worst, p.fallback_latency(p.set_client[s], p.layer_of[p.set_members[s * p.top_k]]));
    empty += p.set_weight[s] * worst;
  }
  m_empty_latency = empty;
  reset(x);
}

void Evaluator::reset(const Placement& x) {
  const Problem& p = *m_p;
  m_x = x;
  const std::size_t G = p.num_experts;
  // d = min(D0, min over holders of D): node-major, O(U * G + copies * U) (same values as
  // best_without for every expert).
  m_d.assign(p.num_clients * G, 0.0);
  for (std::size_t u = 0; u < p.num_clients; ++u)
    for (std::size_t g = 0; g < G; ++g) m_d[u * G + g] = p.fallback_latency(u, p.layer_of[g]);
  for (std::size_t n = 0; n < p.num_nodes; ++n)
    for (std::size_t g = 0; g < G; ++g) {
      if (!m_x.has(n, g)) continue;
      const std::size_t l = p.layer_of[g];
      for (std::size_t u = 0; u < p.num_clients; ++u) m_d[u * G + g] = std::min(m_d[u * G + g], p.serve_latency(u, n, l));
    }
  m_set_lat.assign(p.num_sets(), 0.0);
  m_latency = 0.0;
  for (std::size_t s = 0; s < p.num_sets(); ++s) {
    double worst = 0.0;
    for (auto g : p.members(s)) worst = std::max(worst, m_d[p.set_client[s] * G + g]);
    m_set_lat[s] = worst;
    m_latency += p.set_weight[s] * worst;
  }
}

double Evaluator::best_without(std::size_t u, std::size_t g, std::size_t skip_node) const {
  const Problem& p = *m_p;
  const std::size_t l = p.layer_of[g];
  double best = p.fallback_latency(u, l);
  for (std::size_t n = 0; n < p.num_nodes; ++n)
    if (n != skip_node && m_x.has(n, g)) best = std::min(best, p.serve_latency(u, n, l));
  return best;
}

void Evaluator::set_expert_latency(std::size_t u, std::size_t g, double value) {
  const Problem& p = *m_p;
  const std::size_t G = p.num_experts;
  double& d = m_d[u * G + g];
  if (d == value) return;
  const double old = d;
  d = value;
  for (auto s : p.sets_of(u, g)) {
    double& cur = m_set_lat[s];
    double next;
    if (value > cur) {
      next = value;
    } else if (old < cur) {
      continue;  // g was not the slowest member and still is not
    } else {
      next = 0.0;
      for (auto h : p.members(s)) next = std::max(next, m_d[u * G + h]);
    }
    m_latency += p.set_weight[s] * (next - cur);
    cur = next;
  }
}

void Evaluator::add(std::size_t n, std::size_t g) {
  if (m_x.has(n, g)) return;
  m_x.set(n, g, true);
  const Problem& p = *m_p;
  const std::size_t l = p.layer_of[g];
  for (std::size_t u = 0; u < p.num_clients; ++u) {
    const double a = p.serve_latency(u, n, l);
    if (a < m_d[u * p.num_experts + g]) set_expert_latency(u, g, a);
  }
}

void Evaluator::remove(std::size_t n, std::size_t g) {
  if (!m_x.has(n, g)) return;
  m_x.set(n, g, false);
  const Problem& p = *m_p;
  for (std::size_t u = 0; u < p.num_clients; ++u) set_expert_latency(u, g, best_without(u, g, p.num_nodes));
}

double Evaluator::gain_if_added(std::size_t n, std::size_t g) const {
  if (m_x.has(n, g)) return 0.0;
  const Problem& p = *m_p;
  const std::size_t G = p.num_experts, l = p.layer_of[g];
  double gain = 0.0;
  for (std::size_t u = 0; u < p.num_clients; ++u) {
    const double a = p.serve_latency(u, n, l);
    const double d = m_d[u * G + g];
    if (!(a < d)) continue;
    for (auto s : p.sets_of(u, g)) {
      const double cur = m_set_lat[s];
      if (d < cur) continue;
      double next = a;
      for (auto h : p.members(s))
        if (h != g) next = std::max(next, m_d[u * G + h]);
      gain += p.set_weight[s] * (cur - next);
    }
  }
  return gain;
}

double Evaluator::loss_if_removed(std::size_t n, std::size_t g) const {
  if (!m_x.has(n, g)) return 0.0;
  const Problem& p = *m_p;
  const std::size_t G = p.num_experts;
  double loss = 0.0;
  for (std::size_t u = 0; u < p.num_clients; ++u) {
    const double d = m_d[u * G + g];
    const double next_d = best_without(u, g, n);
    if (next_d == d) continue;
    for (auto s : p.sets_of(u, g)) {
      const double cur = m_set_lat[s];
      if (next_d <= cur) continue;
      loss += p.set_weight[s] * (next_d - cur);
    }
  }
  return loss;
}

double naive_latency(const Problem& p, const Placement& x) {
  double total = 0.0;
  for (std::size_t s = 0; s < p.num_sets(); ++s) {
    const std::size_t u = p.set_client[s];
    double worst = 0.0;
    for (auto g : p.members(s)) {
      const std::size_t l = p.layer_of[g];
      double d = p.fallback_latency(u, l);
      for (std::size_t n = 0; n < p.num_nodes; ++n)
        if (x.bits[n * p.num_experts + g] != 0) d = std::min(d, p.serve_latency(u, n, l));
      worst = std::max(worst, d);
    }
    total += p.set_weight[s] * worst;
  }
  return total;
}

bool is_feasible(const Problem& p, const Placement& x) {
  if (x.num_nodes != p.num_nodes || x.num_experts != p.num_experts || x.bits.size() != p.num_nodes * p.num_experts)
    return false;
  for (std::size_t n = 0; n < p.num_nodes; ++n) {
    std::uint64_t used = 0;
    for (std::size_t g = 0; g < p.num_experts; ++g) {
      const auto bit = x.bits[n * p.num_experts + g];
      if (bit > 1) return false;
      if (bit == 1) used += p.size[g];
    }
    if (used > p.budget[n]) return false;
  }
  return true;
}

}  // namespace slimcache::solver
