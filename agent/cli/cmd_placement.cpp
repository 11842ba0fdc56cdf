// slimctl placement: the decentralised placement as this node sees it.
//   slimctl placement                 epoch, digest, order; per node: planned/held experts, agreement
//   slimctl placement --node NAME     also that node's experts by layer
//   slimctl placement --expert L:E    where expert E of layer L is, and why: each node's gain
//   slimctl placement --rebalance     start a new epoch now (operator)
#include <iostream>
#include <map>

#include "agent/cli/cli.hpp"
#include "agent/cli/daemon_client.hpp"
#include "agent/cli/table.hpp"

namespace slimcache::agent::cli {

namespace {

struct PlacementArgs {
  DaemonOptions daemon;
  std::string node;
  std::string expert;
  bool rebalance = false;
};

std::string by_layer(const nlohmann::json& ids, std::uint32_t experts_per_layer) {
  std::map<std::uint32_t, std::string> layers;
  for (const auto& g : ids) {
    const auto id = g.get<std::uint32_t>();
    auto& s = layers[id / experts_per_layer];
    s += (s.empty() ? "" : ",") + std::to_string(id % experts_per_layer);
  }
  std::string out;
  for (const auto& [l, s] : layers) out += "  layer " + std::to_string(l) + ": " + s + "\n";
  return out.empty() ? "  (none)\n" : out;
}

void print_human(const nlohmann::json& r, std::uint32_t experts_per_layer) {
  std::cout << "epoch " << r["epoch"] << " (" << r["cause"].get<std::string>() << "), " << r["phase"].get<std::string>()
            << ", algorithm " << r["algorithm"].get<std::string>() << ", inputs digest "
            << r["digest"].get<std::string>() << "\n";
  if (r.contains("predicted_latency_s"))
    std::cout << "predicted MoE latency per token: " << format_seconds(r["predicted_latency_s"].get<double>())
              << " (nothing cached: " << format_seconds(r["empty_latency_s"].get<double>()) << ")\n";
  std::cout << "this node: fetching " << r["fetching"] << ", fetched " << r["fetched"] << ", dropped " << r["dropped"]
            << ", last step " << format_fixed(r["last_solve_ms"].get<double>(), 1) << " ms"
            << (r["settled"].get<bool>() ? ", settled" : "") << "\n";
  Table t({"node", "role", "epoch", "planned", "held", "budget", "gain/token", "digest"});
  for (const auto& n : r["nodes"]) {
    std::string role = n["server"].get<bool>() ? "server" : "-";
    if (n["origin"].get<bool>()) role += ",origin";
    if (n["client"].get<bool>()) role += ",client";
    const bool has = n.contains("placement_epoch");
    t.add_row({n["name"].get<std::string>(), role, has ? std::to_string(n["placement_epoch"].get<std::uint64_t>()) : "-",
               has ? std::to_string(n["planned"].get<std::size_t>()) : "-", std::to_string(n["held"].get<std::size_t>()),
               format_bytes(n["budget_bytes"].get<double>()), has ? format_seconds(n["gain_s"].get<double>()) : "-",
               has ? (n["agrees"].get<bool>() ? "same" : "DIFFERS") : "-"});
  }
  t.print(std::cout);
  for (const auto& n : r["nodes"]) {
    if (!n.contains("experts")) continue;
    std::cout << n["name"].get<std::string>() << " plans:\n" << by_layer(n["experts"], experts_per_layer);
    std::cout << n["name"].get<std::string>() << " holds:\n" << by_layer(n["holds"], experts_per_layer);
  }
  if (r.contains("expert")) {
    const auto& e = r["expert"];
    std::cout << "expert " << e["expert"] << " of layer " << e["layer"] << " (id " << e["id"]
              << "), highest activation probability " << format_fixed(e["max_activation_probability"].get<double>(), 3)
              << "\n";
    Table et({"node", "planned", "holds", "gain/token"});
    for (const auto& n : e["nodes"])
      et.add_row({n["name"].get<std::string>(), n["planned"].get<bool>() ? "yes" : "", n["holds"].get<bool>() ? "yes" : "",
                  format_seconds(n["gain_s"].get<double>())});
    et.print(std::cout);
    std::cout << "gain: per-token latency saved by this copy (planned), or that adding one would save\n";
  }
}

}  // namespace

void add_placement_command(CLI::App& app, Context& ctx) {
  auto a = std::make_shared<PlacementArgs>();
  auto* cmd = app.add_subcommand("placement", "The decentralised expert placement: epoch, per node, per expert");
  add_daemon_options(*cmd, a->daemon);
  cmd->add_option("--node", a->node, "Also list this node's planned and held experts by layer");
  cmd->add_option("--expert", a->expert, "LAYER:EXPERT: where it is placed and each node's gain for it");
  cmd->add_flag("--rebalance", a->rebalance, "Start a new placement epoch now");
  cmd->callback([a, &ctx] {
    if (a->rebalance) {
      auto r = call_daemon(a->daemon, ctx, "placement.epoch");
      if (!r) return;
      if (a->daemon.json) std::cout << r->dump(2) << "\n";
      else std::cout << "new epoch requested (current " << (*r)["epoch"] << ")\n";
      return;
    }
    nlohmann::json args = nlohmann::json::object();
    if (!a->node.empty()) args["node"] = a->node;
    if (!a->expert.empty()) {
      const auto colon = a->expert.find(':');
      try {
        if (colon == std::string::npos) throw std::invalid_argument("no colon");
        std::size_t end1 = 0, end2 = 0;
        const auto l = std::stoul(a->expert.substr(0, colon), &end1);
        const auto e = std::stoul(a->expert.substr(colon + 1), &end2);
        if (end1 != colon || end2 != a->expert.size() - colon - 1) throw std::invalid_argument("trailing");
        args["expert"] = {l, e};
      } catch (const std::exception&) {
        std::cerr << "slimctl placement: --expert wants LAYER:EXPERT (e.g. 3:17), got '" << a->expert << "'\n";
        ctx.exit_code = k_exit_bad_input;
        return;
      }
    }
    auto r = call_daemon(a->daemon, ctx, "placement", args);
    if (!r) return;
    if (a->daemon.json) {
      std::cout << r->dump(2) << "\n";
      return;
    }
    auto model = call_daemon(a->daemon, ctx, "model");
    if (!model) return;
    print_human(*r, model->value("experts", 1u));
  });
}

}  // namespace slimcache::agent::cli
