// The cluster targets of issue 7, measured: N slimcached processes on loopback (default 8)
// with a qwen3-30b-a3b-shaped model (48 layers x 128 experts, top-8) scaled down to tiny
// experts, imported on node1, synthetic workloads through two engines. Prints:
//   - start to a settled placement with every transfer done (and its parts)
//   - after a SIGKILL of one server: time to detection, then detection to settled again
//   - under stationary statistics, the most times any expert moved in 10 forced epochs
// Usage: cluster_bench [--nodes N] [--slimcached PATH] [--hidden H --ffn F] [--keep 1]
// (--keep 1 keeps the cluster directory with every node's log, as a failure does.)
#include <signal.h>

#include <cstring>
#include <iostream>

#include "tests/agent/daemon/cluster_observer.hpp"

using namespace slimcache::agent;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
int fail(const std::string& what, cli::LocalCluster& c) {
  c.keep = true;
  std::cerr << "cluster_bench: " << what << " (logs kept in " << c.dir << ")\n";
  return 1;
}
}  // namespace

int main(int argc, char** argv) {
  int nodes = 8;
  std::uint32_t hidden = 32, ffn = 16;
  std::string binary;
  bool keep = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--nodes")) nodes = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--slimcached")) binary = argv[i + 1];
    else if (!std::strcmp(argv[i], "--hidden")) hidden = static_cast<std::uint32_t>(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--ffn")) ffn = static_cast<std::uint32_t>(std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--keep")) keep = std::atoi(argv[i + 1]) != 0;
  }
  const std::uint32_t layers = 48, experts = 128, top_k = 8, total = layers * experts;
  cli::LocalClusterOptions o;
  o.nodes = nodes;
  const std::uint64_t expert_disk = 3ull * hidden * ffn * 2 + 512;
  o.disk_budget = total * expert_disk * 3 / static_cast<std::uint64_t>(2 * nodes);  // 1.5 model copies in all
  o.memory_budget = o.disk_budget / 2;
  o.slimcached = binary;
  o.placement_toml = "latency_expert_bytes = \"18MB\"\n";  // Qwen3-30B-A3B experts: 3 x 2048 x 768 x bf16 ~ 9.4 MB; 18 MB fp32
  std::string error;
  auto created = cli::LocalCluster::create(o, error);
  if (!created) {
    std::cerr << "cluster_bench: " << error << "\n";
    return 1;
  }
  auto& c = *created;
  c.keep = keep;
  if (keep) std::cout << "cluster_bench: keeping " << c.dir << "\n";
  const auto ckpt = c.dir / "checkpoint";
  model::write_checkpoint(ckpt, {model::Family::k_qwen3_moe, layers, experts, top_k, hidden, ffn, 4,
                                 slimcache::config::DType::k_bf16});
  std::cout << "cluster_bench: " << nodes << " slimcached on loopback, qwen3-30b-a3b shape (" << layers << "x" << experts
            << ", top-" << top_k << "), experts scaled to " << hidden << "x" << ffn << " bf16, disk budget "
            << o.disk_budget / 1024 << " KiB per node\n";

  const auto t0 = Clock::now();
  if (!c.start_all()) return fail("fork failed", c);
  if (!cli::wait_members(c, static_cast<std::size_t>(nodes), 60s)) return fail("membership did not converge", c);
  const double t_members = since(t0);
  auto imported = c.call(0, "import", {{"model_dir", ckpt.string()}}, 300s, &error);
  if (!imported) return fail("import: " + error, c);
  const double t_import = since(t0);
  for (std::size_t i = 0; i < 2; ++i) {
    std::optional<nlohmann::json> status;
    if (!c.wait_for([&] { return (status = c.call(i, "status", {}, 1s)) && (*status)["cache"].contains("shm_name"); }, 60s))
      return fail("node" + std::to_string(i + 1) + " has no model", c);
    auto r = cli::record_trace((*status)["cache"]["shm_name"].get<std::string>(),
                               cli::synthetic_trace(layers, experts, top_k, 500, 30 + i));
    if (!r) return fail(r.error(), c);
  }
  const double t_load = since(t0);
  std::map<std::string, cluster_obs::NodePlacement> view;
  // Progress on stderr (every ~2 s): each node's epoch, what it holds of what it plans.
  auto last_report = Clock::now();
  auto report = [&] {
    if (Clock::now() - last_report < 2s) return;
    last_report = Clock::now();
    std::cerr << "  " << static_cast<int>(since(t0)) << " s:";
    for (const auto& [name, p] : view) {
      std::size_t have = 0;
      for (const auto g : p.planned) have += p.held.count(g);
      std::cerr << " " << name << " e" << p.epoch << (p.settled ? "s " : " ") << have << "/" << p.planned.size();
    }
    std::cerr << "\n";
  };
  if (!c.wait_for(
          [&] {
            const bool done = cluster_obs::all_settled(view = cluster_obs::observe(c), nodes, 1);
            report();
            return done;
          },
          180s))
    return fail("no settled placement within 180 s", c);
  const double t_settled = since(t0);
  std::size_t copies = 0;
  for (const auto& [name, p] : view)
    if (name != "node1") copies += p.held.size();
  std::cout << "start -> settled placement, all transfers done: " << t_settled << " s (members " << t_members
            << " s, import done " << t_import << " s, workloads recorded " << t_load << " s, then epoch "
            << view.begin()->second.epoch << " settled " << t_settled - t_load << " s later); " << copies
            << " expert copies on the other nodes; unheld experts: " << cluster_obs::unheld(view, total).size() << "\n";

  {
    std::uint64_t fetched = 0, handshakes = 0, reuses = 0;
    for (std::size_t i = 0; i < static_cast<std::size_t>(nodes); ++i) {
      if (auto t = c.call(i, "transfers", {}, 2s)) {
        fetched += t->value("completed", std::uint64_t{0});
        handshakes += t->value("connections_opened", std::uint64_t{0});
        reuses += t->value("session_reuses", std::uint64_t{0});
      }
    }
    std::cout << "transfers: " << fetched << " experts fetched over " << handshakes << " TLS handshakes (" << reuses
              << " requests on a reused session)\n";
  }

  const auto epoch = view.begin()->second.epoch;
  const auto t_kill = Clock::now();
  c.kill(static_cast<std::size_t>(nodes / 2), SIGKILL);
  if (!cli::wait_members(c, static_cast<std::size_t>(nodes - 1), 60s)) return fail("the death was not detected", c);
  const double detect = since(t_kill);
  const auto t_detect = Clock::now();
  if (!c.wait_for([&] { return cluster_obs::all_settled(view = cluster_obs::observe(c), nodes - 1, epoch + 1); }, 120s))
    return fail("survivors did not settle", c);
  std::cout << "SIGKILL node" << nodes / 2 + 1 << ": detected by every survivor after " << detect
            << " s; survivors settled on epoch " << view.begin()->second.epoch << " (" << view.begin()->second.cause
            << ") " << since(t_detect) << " s after detection; unheld experts: "
            << cluster_obs::unheld(view, total).size() << "\n";

  std::map<std::string, std::set<std::uint32_t>> last;
  std::map<std::pair<std::string, std::uint32_t>, int> moves;
  for (const auto& [name, p] : view) last[name] = p.planned;
  std::size_t moved_total = 0;
  for (int round = 0; round < 10; ++round) {
    const auto e = view.begin()->second.epoch;
    if (!c.call(0, "placement.epoch")) return fail("placement.epoch failed", c);
    if (!c.wait_for([&] { return cluster_obs::all_settled(view = cluster_obs::observe(c), nodes - 1, e + 1); }, 60s))
      return fail("forced epoch did not settle", c);
    for (const auto& [name, p] : view) {
      for (std::uint32_t g = 0; g < total; ++g)
        if (p.planned.count(g) != last[name].count(g)) {
          ++moves[{name, g}];
          ++moved_total;
        }
      last[name] = p.planned;
    }
  }
  int most = 0;
  for (const auto& [k, n] : moves) most = std::max(most, n);
  std::cout << "10 forced epochs under stationary statistics: " << moved_total
            << " placement changes in all; the most any (node, expert) changed: " << most << "\n";
  return 0;
}
