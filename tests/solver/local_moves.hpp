#pragma once
// Exhaustive check of node-local optimality, without the solver's pruning: every fill (an
// expert added where node n's budget has room) and every swap (one held expert out,
// another in, within the budget) on node n, each valued exactly with a fresh evaluator.
#include <cstddef>
#include <string>
#include <vector>

#include "solver/evaluator.hpp"
#include "solver/problem.hpp"

namespace slimcache::solver::testing {

struct LocalMoves {
  std::vector<std::string> paying;  // "fills G" / "swaps R for G": raise F by > tolerance
  std::size_t checked = 0;          // fills and swaps valued
};

// Tolerance: relative_tolerance * T(empty).
inline LocalMoves paying_local_moves(const Problem& p, const Placement& x, std::size_t n,
                                     double relative_tolerance = 1e-9) {
  LocalMoves out;
  Evaluator ev(p, x);
  const double tolerance = relative_tolerance * ev.empty_latency();
  const std::uint64_t used = x.bytes_on(p, n);
  for (std::size_t g = 0; g < p.num_experts; ++g) {
    if (x.has(n, g)) continue;
    if (used + p.size[g] <= p.budget[n]) {
      ++out.checked;
      if (ev.gain_if_added(n, g) > tolerance) out.paying.push_back("fills " + std::to_string(g));
      continue;
    }
    for (std::size_t r = 0; r < p.num_experts; ++r) {
      if (!x.has(n, r) || used - p.size[r] + p.size[g] > p.budget[n]) continue;
      ++out.checked;
      const double was = ev.reduction();
      ev.remove(n, r);
      ev.add(n, g);
      if (ev.reduction() - was > tolerance)
        out.paying.push_back("swaps " + std::to_string(r) + " for " + std::to_string(g));
      ev.remove(n, g);
      ev.add(n, r);
    }
  }
  return out;
}

// The first few paying moves, for a failure message.
inline std::string first_moves(const LocalMoves& m, std::size_t most = 3) {
  std::string s;
  for (std::size_t i = 0; i < m.paying.size() && i < most; ++i) s += (i ? "; " : "") + m.paying[i];
  if (m.paying.size() > most) s += "; ... (" + std::to_string(m.paying.size()) + " in all)";
  return s;
}

}  // namespace slimcache::solver::testing
