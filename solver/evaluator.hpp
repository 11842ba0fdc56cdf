#pragma once
// The exact evaluator of T(x) (MODEL.md sections 2 and 3.1), used by every algorithm.
//
//   d_{u,g}(x) = min(D0_{u,l(g)}, min_{n : x_{n,g}=1} D_{u,n,l(g)})
//   T(x)      = sum_s w_s * max_{g in A_s} d_{u_s,g}(x)      (w_s = lambda_u * pi_{u,l}(A_s))
//
// State: the placement, d for every (client, expert) and the current latency of every
// sampled set. add()/remove() update it in O(N + sum over clients of |sets containing g| * K);
// gain_if_added()/loss_if_removed() answer the same question without changing anything.
// The empty placement's T is computed once. Not thread-safe; one evaluator per thread,
// the Problem is shared read-only and must outlive it.
#include <cstddef>
#include <vector>

#include "solver/problem.hpp"

namespace slimcache::solver {

class Evaluator {
 public:
  explicit Evaluator(const Problem& problem);  // starts from the empty placement
  // Starts from x (same state as Evaluator(problem) then reset(x), one pass cheaper).
  Evaluator(const Problem& problem, const Placement& x);

  void reset(const Placement& x);
  void add(std::size_t n, std::size_t g);     // no-op if already cached there
  void remove(std::size_t n, std::size_t g);  // no-op if not cached there

  [[nodiscard]] double latency() const { return m_latency; }            // T(x)
  [[nodiscard]] double empty_latency() const { return m_empty_latency; }  // T(empty)
  [[nodiscard]] double reduction() const { return m_empty_latency - m_latency; }  // F(x)
  [[nodiscard]] double gain_if_added(std::size_t n, std::size_t g) const;
  [[nodiscard]] double loss_if_removed(std::size_t n, std::size_t g) const;
  [[nodiscard]] double expert_latency(std::size_t u, std::size_t g) const { return m_d[u * m_p->num_experts + g]; }
  [[nodiscard]] const Placement& placement() const { return m_x; }
  [[nodiscard]] const Problem& problem() const { return *m_p; }

 private:
  void set_expert_latency(std::size_t u, std::size_t g, double value);
  [[nodiscard]] double best_without(std::size_t u, std::size_t g, std::size_t skip_node) const;

  const Problem* m_p;
  Placement m_x;
  std::vector<double> m_d;        // [u * G + g]
  std::vector<double> m_set_lat;  // per set
  double m_latency = 0.0;
  double m_empty_latency = 0.0;
};

// T(x) recomputed from the definition, with no shared code path: O(sets * K * N).
// For tests and for checking results; independent of Evaluator.
[[nodiscard]] double naive_latency(const Problem& problem, const Placement& x);

// Independent feasibility check: shape matches and every node within its budget.
[[nodiscard]] bool is_feasible(const Problem& problem, const Placement& x);

}  // namespace slimcache::solver
