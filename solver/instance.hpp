#pragma once
// A placement instance (MODEL.md section 1): the model's layers and expert sizes, the
// nodes with budgets and execution costs, the clients with weights, fallback latencies
// and activation statistics, and the links between clients and nodes.
//
// Plain data, owned by value. validate() checks every invariant the solver relies on and
// names the offending field; build_problem() (problem.hpp) calls it. Thread-safe: no state.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "solver/expected.hpp"
#include "solver/routing_trace.hpp"

namespace slimcache::solver {

// Per-client, per-layer activation statistics (MODEL.md section 4).
struct LayerStats {
  std::vector<double> marginals;  // p_{u,l,e}: P(e in the token's top-K set); size E_l; may be empty (derived from sets)
  std::vector<ExpertId> sets;     // bounded sample of top-K sets, flat, top_k ids per set
  std::vector<double> weights;    // one non-negative weight per set (counts or probabilities); normalised on build
};

struct Node {
  std::string name;
  std::uint64_t budget_bytes = 0;  // Q_n
  std::vector<double> exec_s;      // c_{n,l}, one per layer
};

struct Client {
  std::string name;
  double weight = 1.0;                 // lambda_u (normalised to shares on build)
  std::optional<std::size_t> node;     // index of the node this client runs on, if any
  std::vector<double> fallback_s;      // D0_{u,l}, one per layer
};

struct Link {
  double rtt_s = 0.0;                  // r_{u,n}
  double bandwidth_bytes_per_s = 0.0;  // b_{u,n}; 0 means unreachable
};

struct Instance {
  std::string model;                                 // free text (preset name)
  std::size_t top_k = 1;                             // K
  std::vector<std::vector<std::uint64_t>> expert_bytes;  // s_{l,e}: [layer][expert]
  double hidden_state_bytes = 0.0;                   // h
  std::vector<Node> nodes;
  std::vector<Client> clients;
  std::vector<Link> links;        // clients x nodes, row-major: links[u * nodes.size() + n]
  std::vector<LayerStats> stats;  // clients x layers, row-major: stats[u * layers + l]

  [[nodiscard]] std::size_t num_layers() const { return expert_bytes.size(); }
  [[nodiscard]] const Link& link(std::size_t u, std::size_t n) const { return links[u * nodes.size() + n]; }
  [[nodiscard]] const LayerStats& stat(std::size_t u, std::size_t l) const { return stats[u * num_layers() + l]; }
};

struct InstanceError {
  std::string key;      // dotted path of the offending field, e.g. "stats[u=0,l=3].sets[2]"
  std::string message;
  [[nodiscard]] std::string to_string() const { return key.empty() ? message : key + ": " + message; }
};

// Checks shapes, ranges (non-negative finite times, K <= E_l, ids < E_l, distinct ids in a
// set, positive total weight), and that every client has statistics for every layer.
[[nodiscard]] Expected<void, InstanceError> validate(const Instance& instance);

}  // namespace slimcache::solver
