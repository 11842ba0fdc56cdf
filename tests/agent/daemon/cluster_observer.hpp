#pragma once
// Observing a LocalCluster's placement through the admin sockets (tests and the cluster
// bench): whether every running node settled on one epoch with one inputs digest, and what
// each node places and holds.
#include <chrono>
#include <map>
#include <set>
#include <string>

#include "agent/cli/local_cluster.hpp"
#include "agent/model/checkpoint_writer.hpp"

namespace slimcache::agent::cluster_obs {

struct NodePlacement {
  std::uint64_t epoch = 0;
  std::string digest;
  std::string cause;
  bool settled = false;
  std::set<std::uint32_t> planned, held;
};

// Every running node's own view (placement --node <itself>); nodes that do not answer are absent.
inline std::map<std::string, NodePlacement> observe(const cli::LocalCluster& cluster) {
  std::map<std::string, NodePlacement> out;
  for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
    if (cluster.nodes[i].pid <= 0) continue;
    const auto& name = cluster.nodes[i].name;
    auto r = cluster.call(i, "placement", {{"node", name}}, std::chrono::seconds(2));
    if (!r) continue;
    NodePlacement p;
    p.epoch = (*r)["epoch"];
    p.digest = (*r)["digest"];
    p.cause = (*r)["cause"];
    p.settled = (*r)["settled"];
    for (const auto& n : (*r)["nodes"])
      if (n["name"] == name && n.contains("experts")) {
        for (const auto& g : n["experts"]) p.planned.insert(g.get<std::uint32_t>());
        for (const auto& g : n["holds"]) p.held.insert(g.get<std::uint32_t>());
      }
    out[name] = std::move(p);
  }
  return out;
}

// All `expected` nodes answered, share one epoch >= min_epoch and one digest, and settled.
inline bool all_settled(const std::map<std::string, NodePlacement>& view, std::size_t expected, std::uint64_t min_epoch) {
  if (view.size() != expected) return false;
  const auto& first = view.begin()->second;
  for (const auto& [name, p] : view)
    if (!p.settled || p.epoch < min_epoch || p.epoch != first.epoch || p.digest != first.digest) return false;
  return true;
}

// Experts no answering node holds (ids below `total`).
inline std::set<std::uint32_t> unheld(const std::map<std::string, NodePlacement>& view, std::uint32_t total) {
  std::set<std::uint32_t> out;
  for (std::uint32_t g = 0; g < total; ++g) out.insert(g);
  for (const auto& [name, p] : view)
    for (const auto g : p.held) out.erase(g);
  return out;
}

}  // namespace slimcache::agent::cluster_obs
