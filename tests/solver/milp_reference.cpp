#include "tests/solver/milp_reference.hpp"

#include <glpk.h>

#include <algorithm>
#include <map>
#include <vector>

namespace slimcache::testing {

namespace {

// Owns the GLPK problem.
struct Glp {
  glp_prob* p = glp_create_prob();
  ~Glp() { glp_delete_prob(p); }
  Glp() = default;
  Glp(const Glp&) = delete;
  Glp& operator=(const Glp&) = delete;
};

struct Mip {
  std::vector<int> ia{0}, ja{0};
  std::vector<double> ar{0.0};
  void add(int row, int col, double v) {
    ia.push_back(row);
    ja.push_back(col);
    ar.push_back(v);
  }
};

}  // namespace

Expected<MilpResult, MilpError> solve_milp(const solver::Problem& p, const MilpOptions& opt) {
  const std::size_t N = p.num_nodes, G = p.num_experts;
  // y variables for (u, g) pairs that occur in some set, for useful nodes.
  std::map<std::pair<std::size_t, std::size_t>, std::vector<std::pair<std::size_t, int>>> y;  // (u,g) -> (n, col)
  std::size_t count = N * G + p.num_sets();
  for (std::size_t s = 0; s < p.num_sets(); ++s)
    for (auto g : p.members(s)) {
      const std::size_t u = p.set_client[s];
      if (y.count({u, g})) continue;
      auto& list = y[{u, g}];
      for (std::size_t n = 0; n < N; ++n)
        if (p.serve_latency(u, n, p.layer_of[g]) < p.fallback_latency(u, p.layer_of[g])) list.emplace_back(n, 0);
      count += list.size();
    }
  if (count > opt.max_variables)
    return Unexpected(MilpError{"milp: " + std::to_string(count) + " variables, above the limit of " +
                                std::to_string(opt.max_variables)});
  Glp glp;
  glp_set_obj_dir(glp.p, GLP_MIN);
  // columns: x first, then z, then y
  const int x0 = 1;
  glp_add_cols(glp.p, static_cast<int>(count));
  int col = 1;
  for (std::size_t i = 0; i < N * G; ++i, ++col) {
    glp_set_col_kind(glp.p, col, GLP_BV);
  }
  const int z0 = col;
  for (std::size_t s = 0; s < p.num_sets(); ++s, ++col) {
    glp_set_col_bnds(glp.p, col, GLP_LO, 0.0, 0.0);
    glp_set_obj_coef(glp.p, col, p.set_weight[s]);
  }
  for (auto& [key, list] : y)
    for (auto& [n, c] : list) {
      c = col++;
      glp_set_col_bnds(glp.p, c, GLP_DB, 0.0, 1.0);
    }
  Mip m;
  int row = glp_add_rows(glp.p, static_cast<int>(N));
  for (std::size_t n = 0; n < N; ++n, ++row) {
    glp_set_row_bnds(glp.p, row, GLP_UP, 0.0, static_cast<double>(p.budget[n]));
    for (std::size_t g = 0; g < G; ++g) m.add(row, x0 + static_cast<int>(n * G + g), static_cast<double>(p.size[g]));
  }
  for (const auto& [key, list] : y) {
    if (list.empty()) continue;
    const int r = glp_add_rows(glp.p, 1);
    glp_set_row_bnds(glp.p, r, GLP_UP, 0.0, 1.0);
    for (const auto& [n, c] : list) {
      m.add(r, c, 1.0);
      const int link = glp_add_rows(glp.p, 1);  // y - x <= 0
      glp_set_row_bnds(glp.p, link, GLP_UP, 0.0, 0.0);
      m.add(link, c, 1.0);
      m.add(link, x0 + static_cast<int>(n * G + key.second), -1.0);
    }
  }
  for (std::size_t s = 0; s < p.num_sets(); ++s) {
    const std::size_t u = p.set_client[s];
    for (auto g : p.members(s)) {
      const std::size_t l = p.layer_of[g];
      const double d0 = p.fallback_latency(u, l);
      // z + sum (d0 - D) y >= d0
      const int r = glp_add_rows(glp.p, 1);
      glp_set_row_bnds(glp.p, r, GLP_LO, d0, 0.0);
      m.add(r, z0 + static_cast<int>(s), 1.0);
      for (const auto& [n, c] : y[{u, g}]) m.add(r, c, d0 - p.serve_latency(u, n, l));
    }
  }
  glp_load_matrix(glp.p, static_cast<int>(m.ia.size() - 1), m.ia.data(), m.ja.data(), m.ar.data());
  glp_iocp parm;
  glp_init_iocp(&parm);
  parm.presolve = GLP_ON;
  parm.msg_lev = GLP_MSG_OFF;
  parm.tm_lim = static_cast<int>(opt.time_limit_s * 1000.0);
  parm.mip_gap = 1e-9;
  const int rc = glp_intopt(glp.p, &parm);
  const int status = glp_mip_status(glp.p);
  if ((rc != 0 && rc != GLP_ETMLIM && rc != GLP_EMIPGAP) || (status != GLP_OPT && status != GLP_FEAS))
    return Unexpected(MilpError{"milp: no integer solution (GLPK rc " + std::to_string(rc) + ", status " +
                                std::to_string(status) + ")"});
  MilpResult r;
  r.placement = solver::Placement(N, G);
  for (std::size_t n = 0; n < N; ++n)
    for (std::size_t g = 0; g < G; ++g)
      if (glp_mip_col_val(glp.p, x0 + static_cast<int>(n * G + g)) > 0.5) r.placement.set(n, g, true);
  r.latency_s = glp_mip_obj_val(glp.p);
  r.optimal = status == GLP_OPT && rc == 0;
  r.lower_bound_s = r.optimal ? r.latency_s : 0.0;
  return r;
}

}  // namespace slimcache::testing
