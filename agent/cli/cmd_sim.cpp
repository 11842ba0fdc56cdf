// slimctl sim: simulations that run in this process, deterministically.
//
//   slimctl sim gossip --nodes N [--loss P] [--seed S] [--profile lan|wan|local]
//                      [--updates U] [--partition SECONDS] [--no-encrypt] [--json]
//
// Runs the standard gossip scenario (agent/gossip/sim_scenario.hpp) on a simulated network
// and prints convergence, detection, false positives and traffic. Exit 0 when the run
// completed (whatever the figures), 2 for bad flags.
#include <unistd.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "agent/cli/cli.hpp"
#include "agent/cli/table.hpp"
#include "agent/gossip/sim_scenario.hpp"

namespace slimcache::agent::cli {
namespace {

struct GossipSimOptions {
  std::size_t nodes = 64;
  double loss = 0.0;
  std::uint64_t seed = 1;
  std::string profile = "lan";
  int updates = 10;
  double partition_s = 20;
  bool no_encrypt = false;
  bool json = false;
};

nlohmann::json to_json(const gossip::Percentiles& p) {
  return {{"p50", p.p50}, {"p99", p.p99}, {"max", p.max}, {"count", p.count}};
}

int run_gossip_sim(const GossipSimOptions& opt) {
  gossip::ScenarioOptions so;
  so.nodes = opt.nodes;
  so.loss = opt.loss;
  so.seed = opt.seed;
  so.profile = opt.profile;
  so.updates = opt.updates;
  so.encrypt = !opt.no_encrypt;
  so.partition = std::chrono::duration_cast<gossip::Duration>(std::chrono::duration<double>(opt.partition_s));
  if (isatty(STDERR_FILENO) != 0) so.progress = [](const std::string& s) { std::cerr << "sim gossip: " << s << "\n"; };
  const gossip::ScenarioResult r = gossip::run_standard_scenario(so);

  if (opt.json) {
    nlohmann::json j;
    j["nodes"] = r.nodes;
    j["loss"] = r.loss;
    j["seed"] = r.seed;
    j["profile"] = opt.profile;
    j["gossip_interval_s"] = r.gossip_interval_s;
    j["join_converged"] = r.join_converged;
    j["join_converge_s"] = r.join_converge_s;
    j["converge_rounds_p50"] = r.converge_rounds.p50;
    j["converge_rounds_p99"] = r.converge_rounds.p99;
    j["converge_rounds_max"] = r.converge_rounds.max;
    j["converge_s"] = to_json(r.converge_s);
    j["updates_incomplete"] = r.updates_incomplete;
    j["crash_detected_everywhere"] = r.crash_detected_everywhere;
    j["detect_s_p50"] = r.detect_s.p50;
    j["detect_s_p99"] = r.detect_s.p99;
    j["detect_s_max"] = r.detect_s.max;
    j["stall_declared_dead"] = r.stall_declared_dead;
    j["false_positives"] = r.false_positives;
    j["heal_flaps"] = r.heal_flaps;
    j["healed"] = r.healed;
    j["heal_s"] = r.heal_s;
    j["bytes_per_node_per_s"] = r.bytes_per_node_per_s;
    j["bytes_per_node_per_s_total"] = r.bytes_per_node_per_s_total;
    j["simulated_s"] = r.simulated_s;
    std::cout << j.dump(2) << "\n";
    return k_exit_ok;
  }
  Table t({"measure", "value"});
  t.add_row({"nodes", std::to_string(r.nodes)});
  t.add_row({"loss", format_fixed(r.loss * 100, 1) + " %"});
  t.add_row({"seed", std::to_string(r.seed)});
  t.add_row({"join converged", r.join_converged ? format_seconds(r.join_converge_s) + " after the last join" : "no"});
  t.add_row({"update rounds p50 / p99 / max",
             format_fixed(r.converge_rounds.p50, 1) + " / " + format_fixed(r.converge_rounds.p99, 1) + " / " +
                 format_fixed(r.converge_rounds.max, 1)});
  t.add_row({"update seconds p99", format_seconds(r.converge_s.p99)});
  t.add_row({"updates incomplete", std::to_string(r.updates_incomplete)});
  t.add_row({"crash detected by all", r.crash_detected_everywhere ? "yes" : "no"});
  t.add_row({"detection p50 / p99 / max", format_seconds(r.detect_s.p50) + " / " + format_seconds(r.detect_s.p99) +
                                              " / " + format_seconds(r.detect_s.max)});
  t.add_row({"stalled node declared dead", std::to_string(r.stall_declared_dead)});
  t.add_row({"false positives", std::to_string(r.false_positives)});
  t.add_row({"flaps at partition heal", std::to_string(r.heal_flaps)});
  t.add_row({"partition healed", r.healed ? format_seconds(r.heal_s) + " after heal" : "no"});
  t.add_row({"idle bytes/node/s", format_fixed(r.bytes_per_node_per_s, 0)});
  t.add_row({"average bytes/node/s", format_fixed(r.bytes_per_node_per_s_total, 0)});
  t.print(std::cout);
  return k_exit_ok;
}

}  // namespace

void add_sim_command(CLI::App& app, Context& ctx) {
  CLI::App* sim = app.add_subcommand("sim", "Deterministic simulations (gossip)");
  sim->require_subcommand(1);
  auto opt = std::make_shared<GossipSimOptions>();
  CLI::App* g = sim->add_subcommand("gossip", "Standard gossip scenario on a simulated network");
  g->add_option("--nodes", opt->nodes, "Number of nodes")->check(CLI::Range(4, 100000));
  g->add_option("--loss", opt->loss, "Datagram loss probability, 0 to 1")->check(CLI::Range(0.0, 0.9));
  g->add_option("--seed", opt->seed, "Random seed");
  g->add_option("--profile", opt->profile, "Timing profile")->check(CLI::IsMember({"lan", "wan", "local"}));
  g->add_option("--updates", opt->updates, "State updates to time")->check(CLI::Range(1, 10000));
  g->add_option("--partition", opt->partition_s, "Partition length in seconds")->check(CLI::Range(0.0, 3600.0));
  g->add_flag("--no-encrypt", opt->no_encrypt, "Send plaintext (default: AES-256-GCM)");
  g->add_flag("--json", opt->json, "JSON output for scripts");
  g->callback([opt, &ctx]() { ctx.exit_code = run_gossip_sim(*opt); });
}

}  // namespace slimcache::agent::cli
