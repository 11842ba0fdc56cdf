// slimctl demo: a local slimcache cluster on loopback, end to end.
//   1. starts N slimcached processes (the slimcached beside this slimctl, or on PATH) with
//      one cluster key (gossip encrypted, transfers over TLS with a PSK derived from it)
//   2. waits until every node sees every other (gossip), and prints the members
//   3. generates a small OLMoE-shaped checkpoint and imports it on node1 (the origin)
//   4. replays routing workloads through the engine interface of node1 and node2 (the OLMoE
//      trace when --trace is given or found under $SLIMCACHE_TRACES_DIR, else synthetic)
//   5. watches the decentralised placement epoch: the nodes solve in turn (sgd-fast), fetch
//      their experts from the origin and each other over TLS (make-before-break)
//   6. prints the predicted per-token MoE latency of the placement in force against the
//      same instance solved centrally and the baselines
//   7. stops every daemon with SIGTERM (graceful leave) and removes its files
// Every wait is bounded; a failure keeps the logs and exits non-zero.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include "agent/admin/admin_client.hpp"
#include "agent/cli/cli.hpp"
#include "agent/cli/local_cluster.hpp"
#include "agent/cli/table.hpp"
#include "agent/model/checkpoint_writer.hpp"
#include "config/trace_reader.hpp"
#include "solver/model_presets.hpp"

namespace slimcache::agent::cli {

namespace {

struct DemoOptions {
  int nodes = 4;
  std::string trace;
  int tokens = 2000;
  double budget_fraction = 0.3;
  bool keep = false;
  std::string slimcached;
};

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

int fail(const std::string& message, LocalCluster& cluster) {
  cluster.keep = true;
  std::cout << std::flush;
  std::cerr << "\n" << "slimctl demo: " << message << "\n";
  if (!cluster.dir.empty()) std::cerr << "  daemon logs: " << cluster.dir.string() << "/*.log (kept)\n";
  return k_exit_failure;
}

// Every node answers `placement` for the same epoch, agrees on the digest, and is settled.
bool placement_settled(const LocalCluster& cluster, std::uint64_t min_epoch, nlohmann::json* first = nullptr) {
  std::uint64_t epoch = 0;
  std::string digest;
  for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
    if (cluster.nodes[i].pid <= 0) continue;
    auto p = cluster.call(i, "placement", {}, 2s);
    if (!p || !(*p)["settled"].get<bool>() || (*p)["epoch"].get<std::uint64_t>() < min_epoch) return false;
    if (epoch == 0) {
      epoch = (*p)["epoch"];
      digest = (*p)["digest"];
      if (first != nullptr) *first = *p;
    } else if ((*p)["epoch"] != epoch || (*p)["digest"] != digest) {
      return false;
    }
  }
  return epoch != 0;
}

int run_demo(const DemoOptions& o) {
  const auto t0 = Clock::now();
  // Model shape: OLMoE's routing (16 layers x 64 experts, top-8), experts scaled down to
  // 64x32 bf16; the latency model uses the real OLMoE expert size and the edge profile.
  const std::uint32_t layers = 16, experts = 64, top_k = 8, hidden = 64, ffn = 32;
  const std::uint64_t expert_bytes = 3ull * hidden * ffn * 2 + 4096;  // payload + header, rounded up
  const auto shape = *solver::find_model_preset("olmoe-1b-7b");
  LocalClusterOptions options;
  options.nodes = o.nodes;
  options.disk_budget = static_cast<std::uint64_t>(o.budget_fraction * layers * experts * expert_bytes);
  options.slimcached = o.slimcached;
  options.keep = o.keep;
  options.placement_toml = "latency_expert_bytes = " + std::to_string(shape.expert_bytes()) + "\n";
  std::string error;
  auto created = LocalCluster::create(options, error);
  if (!created) {
    std::cerr << "slimctl demo: " << error << "\n";
    return k_exit_failure;
  }
  auto& cluster = *created;
  std::cout << "== 1. starting " << o.nodes << " slimcached on 127.0.0.1 (gossip ports " << cluster.nodes.front().gossip_port
            << "-" << cluster.nodes.back().gossip_port << "), one cluster key, state in " << cluster.dir.string() << "\n";
  if (!cluster.start_all()) return fail("fork failed", cluster);

  std::cout << "== 2. waiting for membership to converge\n";
  const auto t_join = Clock::now();
  if (!wait_members(cluster, static_cast<std::size_t>(o.nodes), 20s))
    return fail("the nodes did not all see each other within 20 s", cluster);
  std::cout << "   every node sees " << o.nodes << " members after " << format_seconds(since(t_join)) << "\n";
  auto members = cluster.call(0, "members");
  if (!members) return fail("members query failed", cluster);
  Table mt({"name", "address", "state", "rtt"});
  for (const auto& m : (*members)["members"]) {
    const double rtt = m.contains("rtt_ms") ? m["rtt_ms"].get<double>() / 1000 : 0.0;
    mt.add_row({m["name"], m["address"], m["state"], rtt > 0 ? format_seconds(rtt) : "-"});
  }
  mt.print(std::cout);

  std::cout << "== 3. generating an OLMoE-shaped model (" << layers << " layers x " << experts << " experts, top-" << top_k
            << ", experts scaled to " << hidden << "x" << ffn << " bf16) and importing it on node1 (the origin)" << std::endl;
  const auto ckpt = cluster.dir / "checkpoint";
  model::write_checkpoint(ckpt, {model::Family::k_olmoe, layers, experts, top_k, hidden, ffn, 2, config::DType::k_bf16});
  const auto t_import = Clock::now();
  const bool tty = ::isatty(1) != 0;
  auto imported = admin::call({cluster.nodes[0].socket.string(), 120s}, "import", {{"model_dir", ckpt.string()}},
                              [tty](const nlohmann::json& p) {
                                if (tty) std::cout << "\r   " << p.value("done", 0) << "/" << p.value("total", 0) << std::flush;
                              });
  if (tty) std::cout << "\r";
  if (!imported) return fail("import failed: " + imported.error().message, cluster);
  std::cout << "   imported " << (*imported)["experts"].get<int>() << " experts ("
            << format_bytes((*imported)["bytes"].get<double>()) << ") in " << format_seconds(since(t_import))
            << "; the other nodes adopt the model from gossip\n";

  // The workloads: node1 replays the trace (or a synthetic one), node2 another synthetic one.
  solver::RoutingTrace trace;
  std::string source = o.trace;
  if (source.empty()) {
    if (const char* d = std::getenv("SLIMCACHE_TRACES_DIR"); d != nullptr) {
      const auto p = fs::path(d) / "olmoe-decode" / "trace_olmoe_299.jsonl";
      if (fs::exists(p)) source = p.string();
    }
  }
  if (!source.empty()) {
    auto read = config::read_trace_file(source);
    if (!read) return fail(read.error().to_string(), cluster);
    if (read->num_layers != layers || read->top_k != top_k || read->num_experts > experts)
      return fail("the trace's shape does not match the demo model (16 layers, 64 experts, top-8)", cluster);
    trace = std::move(read).value();
  } else {
    trace = synthetic_trace(layers, experts, top_k, o.tokens, 7);
    source = "synthetic Zipf(1.1) workload, seed 7";
  }
  const bool two_clients = o.nodes >= 2;
  std::cout << "== 4. replaying " << trace.num_tokens() << " tokens (" << source << ") through node1's engine interface"
            << (two_clients ? ", and a synthetic workload through node2's" : "") << "\n";
  const auto t_replay = Clock::now();
  std::uint64_t recorded = 0;
  for (std::size_t i = 0; i < (two_clients ? 2u : 1u); ++i) {
    std::optional<nlohmann::json> status;
    // node2 opens its cache once it has adopted the model from gossip
    cluster.wait_for([&] { return (status = cluster.call(i, "status", {}, 1s)) && (*status)["cache"].contains("shm_name"); }, 20s);
    if (!status || !(*status)["cache"].contains("shm_name")) return fail("node" + std::to_string(i + 1) + " has no model", cluster);
    auto r = record_trace((*status)["cache"]["shm_name"].get<std::string>(),
                          i == 0 ? trace : synthetic_trace(layers, experts, top_k, o.tokens, 8));
    if (!r) return fail(r.error(), cluster);
    recorded += *r;
  }
  std::cout << "   " << recorded << " router decisions recorded in " << format_seconds(since(t_replay))
            << " (lock-free shared memory, no system calls)\n";

  std::cout << "== 5. the placement epoch: statistics gossiped, nodes solve in turn (sgd-fast), experts move over TLS; the origin keeps the whole model as the seed\n";
  const auto t_epoch = Clock::now();
  nlohmann::json placement;
  if (!cluster.wait_for([&] { return placement_settled(cluster, 1, &placement); }, 60s))
    return fail("the placement did not settle within 60 s", cluster);
  auto detail = cluster.call(0, "placement", {{"baselines", true}}, 30s);
  if (!detail) return fail("placement query failed", cluster);
  std::cout << "   settled in " << format_seconds(since(t_epoch)) << ": epoch " << (*detail)["epoch"] << " ("
            << (*detail)["cause"].get<std::string>() << "), every node agrees on inputs digest "
            << (*detail)["digest"].get<std::string>() << "\n";
  Table pt({"node", "role", "planned", "held", "budget", "gain/token", "fetched", "dropped", "step"});
  for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
    auto mine = cluster.call(i, "placement", {}, 5s);
    if (!mine) continue;
    for (const auto& n : (*detail)["nodes"]) {
      if (n["name"] != cluster.nodes[i].name) continue;
      std::string role = n["origin"].get<bool>() ? "origin" : "server";
      if (n["client"].get<bool>()) role += ",client";
      pt.add_row({n["name"].get<std::string>(), role, std::to_string(n.value("planned", 0)),
                  std::to_string(n["held"].get<int>()), format_bytes(n["budget_bytes"].get<double>()),
                  n.contains("gain_s") ? format_seconds(n["gain_s"].get<double>()) : "-",
                  std::to_string((*mine)["fetched"].get<int>()), std::to_string((*mine)["dropped"].get<int>()),
                  format_fixed((*mine)["last_solve_ms"].get<double>(), 1) + " ms"});
    }
  }
  pt.print(std::cout);
  if (auto tr = cluster.call(1, "transfers", {}, 5s))
    std::cout << "   node2's transfers: " << tr->value("completed", 0) << " completed, "
              << format_bytes(tr->value("bytes_received", 0.0)) << " received, cipher "
              << tr->value("ciphersuite", std::string("-")) << "\n";

  std::cout << "== 6. predicted per-token MoE latency of the placement in force (modelled at OLMoE's full expert size, "
               "edge profile)\n";
  Table st({"placement", "latency/token", "vs nothing cached", "solve time"});
  const double empty = (*detail)["empty_latency_s"].get<double>();
  auto pct = [empty](double v) { return format_fixed(100.0 * (empty - v) / empty, 1) + " % less"; };
  st.add_row({"decentralised sgd-fast (in force)", format_seconds((*detail)["predicted_latency_s"].get<double>()),
              pct((*detail)["predicted_latency_s"].get<double>()), "per node, above"});
  for (const auto& b : (*detail)["baselines"])
    st.add_row({b["algorithm"].get<std::string>() + (b["algorithm"] == "sgd-fast" ? " (centralised)" : ""),
                format_seconds(b["latency_s"].get<double>()), pct(b["latency_s"].get<double>()),
                format_seconds(b["solve_ms"].get<double>() / 1000)});
  st.add_row({"nothing cached", format_seconds(empty), "-", "-"});
  st.print(std::cout);

  std::cout << "== 7. stopping the cluster (SIGTERM: graceful leave)\n";
  cluster.stop();
  std::cout << "demo finished in " << format_seconds(since(t0)) << "\n";
  return k_exit_ok;
}

}  // namespace

void add_demo_command(CLI::App& app, Context& ctx) {
  auto o = std::make_shared<DemoOptions>();
  auto* demo = app.add_subcommand("demo", "Run a local slimcache cluster on loopback end to end, then stop it");
  demo->add_option("--nodes", o->nodes, "Daemons to start")->check(CLI::Range(2, 16));
  demo->add_option("--trace", o->trace,
                   "Routing trace to replay (default: $SLIMCACHE_TRACES_DIR/olmoe-decode/trace_olmoe_299.jsonl, else "
                   "synthetic)");
  demo->add_option("--tokens", o->tokens, "Tokens of the synthetic workload")->check(CLI::Range(10, 100000));
  demo->add_option("--budget-fraction", o->budget_fraction, "Each node's disk budget as a share of the model")
      ->check(CLI::Range(0.01, 1.0));
  demo->add_option("--slimcached", o->slimcached, "The daemon binary (default: beside slimctl)");
  demo->add_flag("--keep", o->keep, "Keep the state directory and logs");
  demo->callback([o, &ctx] { ctx.exit_code = run_demo(*o); });
}

}  // namespace slimcache::agent::cli
