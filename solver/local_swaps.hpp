#pragma once
// Node-local improvement after the node step (MODEL.md 3.3): on one node, with every other
// node's content fixed, fill (add an expert where the budget has room) or swap (one held
// expert out, another in) while that raises
//     J = F(x) - mu * bytes moved relative to the current placement (migration cost).
// The node step's per-layer profiles are chains, so a node can end where replacing one of
// its experts still pays; at small budgets this is worth a few percent (docs/solver.md).
//
// Pruning by an exact bound: removing r never makes adding g worth more (a set's gain from
// g, max(M, d_g) - max(M, a), does not grow with the other members' latencies M), so a swap
// r -> g can only pay when gain(g) - loss(r) > 0. When r and g are in different layers the
// bound is the exact change (layers do not interact); in the same layer the swap is valued
// exactly with the evaluator. First improvement: the adds are tried by decreasing gain, the
// drops by increasing loss. J never decreases.
//
// Incremental: node n's gains and losses in layer l depend only on layer l's placement, so a
// move re-values its one or two layers, and improve(n) re-values only the layers that moved
// (on any node, through this object) since n's last call. The slowest and second-slowest
// member of each set, which every node's gains need, are computed once per layer change.
// Cost: a node's first call O(sets * (K + 1) + G log E); per move O(sets of the moved
// layers * K + held + E log E + L log L). Not thread-safe; the Evaluator must only change
// through this object while it lives.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "solver/evaluator.hpp"
#include "solver/single_node.hpp"

namespace slimcache::solver {

class LocalSwaps {
 public:
  LocalSwaps(Evaluator& eval, const MigrationCost& migration);
  // Improves node n's content in place (through the evaluator) until no fill or swap
  // pays, or max_moves moves; returns the number of moves made.
  std::size_t improve(std::size_t n, std::size_t max_moves = SIZE_MAX);

 private:
  [[nodiscard]] double pay(std::size_t n, std::size_t g) const;
  void set_stats(std::size_t l);
  void refresh(std::size_t n, std::size_t l);
  void list_adds(std::size_t n, std::size_t l);
  void list_drops(std::size_t n);
  void update_drops(std::size_t n, std::size_t a, std::size_t b);

  Evaluator& m_ev;
  MigrationCost m_migration;
  double m_tolerance;
  // m_value[n * G + g]: for g not on n, what adding it gains; for g on n, what removing it
  // loses; both net of g's migration cost. Valid for layer l while m_seen[n * L + l] ==
  // m_version[l] (bumped by every move in layer l).
  std::vector<double> m_value;
  std::vector<std::uint64_t> m_version, m_seen, m_stats_seen;
  std::vector<double> m_top, m_second;      // per set: slowest and second-slowest latency
  std::vector<std::uint32_t> m_slowest;     // per set: its single slowest member, G if tied
  std::vector<std::vector<std::uint32_t>> m_adds;  // per layer: positive gains, descending
  std::vector<std::uint32_t> m_drops;              // held experts, ascending loss
  std::vector<std::size_t> m_cursor;
};

}  // namespace slimcache::solver
