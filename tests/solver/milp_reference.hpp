#pragma once
// The exact MILP reference (GLPK), for tests, benchmarks and the report only: never a
// dependency of solver/ or the daemon. Built when SLIMCACHE_WITH_MILP is on.
//
// Formulation (all sums over the sampled sets of the Problem; U clients, N nodes):
//   variables  x[n,g] in {0,1}          node n caches expert g
//              y[u,g,n] in [0,1]        client u is served expert g by node n
//                                       (only for n with D[u,n,l(g)] < D0[u,l(g)])
//              z[s] >= 0                latency of sampled set s (client u_s)
//   minimise   sum_s w_s * z[s]
//   subject to sum_g size[g] * x[n,g] <= Q[n]                          for every n
//              sum_n y[u,g,n] <= 1                                      for every (u,g) in some set
//              y[u,g,n] <= x[n,g]
//              z[s] >= D0[u,l] - sum_n (D0[u,l] - D[u,n,l]) * y[u,g,n]   for every s, g in A_s
// With x integral an optimal y puts all its mass on the fastest holder, so z[s] is the
// slowest member's latency and the objective equals T(x) exactly.
// Size: N*G binaries, up to U*G*N continuous y, one z per set; refuse above max_variables.
#include <cstddef>
#include <string>

#include "solver/expected.hpp"
#include "solver/problem.hpp"

namespace slimcache::testing {

struct MilpOptions {
  double time_limit_s = 10.0;
  std::size_t max_variables = 60000;
};

struct MilpResult {
  solver::Placement placement;
  double latency_s = 0.0;      // T of the best placement found (objective value)
  double lower_bound_s = 0.0;  // GLPK's best bound (equals latency_s when optimal)
  bool optimal = false;        // proven optimal within the time limit
};

struct MilpError {
  std::string message;  // too large, no solution within the time limit, GLPK failure
};

[[nodiscard]] Expected<MilpResult, MilpError> solve_milp(const solver::Problem& problem, const MilpOptions& options = {});

}  // namespace slimcache::testing
