// slimctl demo: a local slimcache cluster on loopback, end to end.
//   1. starts N slimcached processes (the slimcached beside this slimctl, or on PATH)
//   2. waits until every node sees every other (gossip), and prints the members
//   3. generates a small OLMoE-shaped checkpoint and imports it on node 1 (the origin)
//   4. replays a routing workload through node 1's engine interface (the OLMoE trace when
//      --trace is given or found under $SLIMCACHE_TRACES_DIR, else a seeded synthetic one)
//   5. builds a placement instance from what the cluster reports (members, budgets,
//      measured RTTs, node 1's activation statistics) and solves it with sgd-fast and the
//      baselines: predicted per-token latency of each
//   6. stops every daemon with SIGTERM (graceful leave) and removes its files
// Every wait is bounded; a failure stops the daemons and exits non-zero.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <cmath>
#include <numeric>
#include <random>
#include <thread>

#include "agent/admin/admin_client.hpp"
#include "agent/cli/cli.hpp"
#include "agent/cli/table.hpp"
#include "agent/engine/engine_segment.hpp"
#include "agent/model/checkpoint_writer.hpp"
#include "config/trace_reader.hpp"
#include "solver/algorithms.hpp"
#include "solver/problem.hpp"
#include "solver/synthetic.hpp"

namespace slimcache::agent::cli {

namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct DemoOptions {
  int nodes = 4;
  std::string trace;
  int tokens = 2000;
  double budget_fraction = 0.25;
  bool keep = false;
  std::string slimcached;
};

struct Node {
  std::string name;
  fs::path config;
  fs::path socket;
  std::uint16_t gossip_port = 0;
  pid_t pid = -1;
};

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

std::string find_slimcached(const std::string& given) {
  if (!given.empty()) return given;
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::exists(self.parent_path() / "slimcached")) return (self.parent_path() / "slimcached").string();
  if (!ec && fs::exists(self.parent_path().parent_path() / "sbin" / "slimcached"))
    return (self.parent_path().parent_path() / "sbin" / "slimcached").string();
  return "slimcached";
}

// A base port with `count` consecutive free UDP+TCP ports on loopback.
std::uint16_t free_ports(int count) {
  std::mt19937 rng(static_cast<unsigned>(::getpid()));
  for (int attempt = 0; attempt < 50; ++attempt) {
    const auto base = static_cast<std::uint16_t>(20000 + rng() % 30000);
    bool ok = true;
    asio::io_context io;
    for (int i = 0; i < count && ok; ++i) {
      asio::error_code ec;
      asio::ip::udp::socket u(io);
      asio::ip::tcp::acceptor t(io);
      const auto addr = asio::ip::make_address("127.0.0.1");
      u.open(asio::ip::udp::v4(), ec);
      if (!ec) u.bind({addr, static_cast<std::uint16_t>(base + i)}, ec);
      if (!ec) t.open(asio::ip::tcp::v4(), ec);
      if (!ec) t.bind({addr, static_cast<std::uint16_t>(base + i)}, ec);
      ok = !ec;
    }
    if (ok) return base;
  }
  return 0;
}

class Cluster {
 public:
  ~Cluster() { stop(); }
  std::vector<Node> nodes;
  fs::path dir;
  bool keep = false;

  bool spawn(const std::string& binary) {
    for (auto& n : nodes) {
      n.pid = ::fork();
      if (n.pid < 0) return false;
      if (n.pid == 0) {
        const auto log = (dir / (n.name + ".log")).string();
        if (!std::freopen(log.c_str(), "w", stderr)) ::_exit(126);
        ::execlp(binary.c_str(), "slimcached", "--config", n.config.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
      }
    }
    return true;
  }
  void stop() {
    for (auto& n : nodes)
      if (n.pid > 0) ::kill(n.pid, SIGTERM);
    const auto deadline = Clock::now() + 10s;
    for (auto& n : nodes) {
      while (n.pid > 0 && Clock::now() < deadline) {
        if (::waitpid(n.pid, nullptr, WNOHANG) == n.pid) n.pid = -1;
        else std::this_thread::sleep_for(20ms);
      }
      if (n.pid > 0) {
        ::kill(n.pid, SIGKILL);
        ::waitpid(n.pid, nullptr, 0);
        n.pid = -1;
      }
    }
    if (!keep && !dir.empty()) {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  }
};

std::optional<nlohmann::json> call(const Node& n, const std::string& cmd, const nlohmann::json& args = nlohmann::json::object(),
                                   std::chrono::milliseconds timeout = 10s) {
  auto r = admin::call({n.socket.string(), timeout}, cmd, args);
  if (!r) return std::nullopt;
  return std::move(r).value();
}

int fail(const std::string& message, Cluster& cluster) {
  cluster.keep = true;
  std::cout << std::flush;
  std::cerr << "\n" << "slimctl demo: " << message << "\n";
  if (!cluster.dir.empty()) std::cerr << "  daemon logs: " << cluster.dir.string() << "/*.log (kept)\n";
  return k_exit_failure;
}

// A seeded synthetic top-K routing workload with per-layer Zipf popularity.
solver::RoutingTrace synthetic_trace(std::uint32_t layers, std::uint32_t experts, std::uint32_t k, int tokens) {
  solver::RoutingTrace t;
  t.num_layers = layers;
  t.top_k = k;
  t.num_experts = experts;
  std::mt19937_64 rng(7);
  std::vector<std::vector<double>> weights(layers, std::vector<double>(experts));
  for (auto& w : weights) {
    std::vector<std::uint32_t> perm(experts);
    std::iota(perm.begin(), perm.end(), 0u);
    std::shuffle(perm.begin(), perm.end(), rng);
    for (std::uint32_t r = 0; r < experts; ++r) w[perm[r]] = 1.0 / std::pow(r + 1.0, 1.1);
  }
  for (int tok = 0; tok < tokens; ++tok) {
    for (std::uint32_t l = 0; l < layers; ++l) {
      auto w = weights[l];
      for (std::uint32_t i = 0; i < k; ++i) {
        std::discrete_distribution<std::uint32_t> pick(w.begin(), w.end());
        const auto e = pick(rng);
        w[e] = 0;
        t.ids.push_back(static_cast<solver::ExpertId>(e));
      }
    }
  }
  return t;
}

int run_demo(const DemoOptions& o) {
  const auto t0 = Clock::now();
  Cluster cluster;
  cluster.keep = o.keep;
  char tmpl[] = "/tmp/slimcache-demo-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return fail("cannot create a temporary directory", cluster);
  cluster.dir = tmpl;
  const std::uint16_t base = free_ports(o.nodes * 3);
  if (base == 0) return fail("no free loopback ports", cluster);

  // Model shape: OLMoE's routing (16 layers x 64 experts, top-8), experts scaled down.
  const std::uint32_t layers = 16, experts = 64, top_k = 8, hidden = 64, ffn = 32;
  const std::uint64_t disk_budget =
      std::max<std::uint64_t>(1 << 20, static_cast<std::uint64_t>(o.budget_fraction * layers * experts * 8192));

  std::cout << "== 1. starting " << o.nodes << " slimcached on 127.0.0.1 (ports " << base << "-" << base + o.nodes * 3 - 1
            << "), state in " << cluster.dir.string() << "\n";
  // node1 is the origin: it imports the model, so it holds all of it.
  const std::uint64_t origin_budget = static_cast<std::uint64_t>(layers) * experts * 16384 + (1 << 20);
  for (int i = 0; i < o.nodes; ++i) {
    Node n;
    n.name = "node" + std::to_string(i + 1);
    n.config = cluster.dir / (n.name + ".toml");
    n.socket = cluster.dir / (n.name + ".sock");
    n.gossip_port = static_cast<std::uint16_t>(base + i);
    std::ofstream(n.config) << "[node]\nname = \"" << n.name << "\"\nstate_dir = \"" << (cluster.dir / n.name).string()
                            << "\"\n[budgets]\ndisk = \"" << (i == 0 ? origin_budget : disk_budget) / 1024 << "KiB\"\nmemory = \"" << 64 * 8
                            << "KiB\"\n[network]\ngossip_port = " << n.gossip_port
                            << "\ntransfer_port = " << base + o.nodes + i << "\nexecution_port = " << base + 2 * o.nodes + i
                            << "\n[gossip]\nprofile = \"local\"\n[cluster]\nlabel = \"demo\"\nseeds = [\"127.0.0.1:" << base
                            << "\"]\n[admin]\nsocket_path = \"" << n.socket.string() << "\"\n";
    cluster.nodes.push_back(n);
  }
  if (!cluster.spawn(find_slimcached(o.slimcached))) return fail("fork failed", cluster);

  std::cout << "== 2. waiting for membership to converge\n";
  const auto t_join = Clock::now();
  bool converged = false;
  while (!converged && since(t_join) < 20) {
    converged = true;
    for (const auto& n : cluster.nodes) {
      auto s = call(n, "status", {}, 1s);
      if (!s || (*s)["members"].get<int>() != o.nodes) converged = false;
    }
    if (!converged) std::this_thread::sleep_for(50ms);
  }
  if (!converged) return fail("the nodes did not all see each other within 20 s", cluster);
  std::cout << "   every node sees " << o.nodes << " members after " << format_seconds(since(t_join)) << "\n";
  auto members = call(cluster.nodes[0], "members");
  if (!members) return fail("members query failed", cluster);
  Table mt({"name", "address", "state", "rtt"});
  std::map<std::string, double> rtt_s;
  for (const auto& m : (*members)["members"]) {
    const double rtt = m.contains("rtt_ms") ? m["rtt_ms"].get<double>() / 1000 : 0.0;
    rtt_s[m["name"]] = rtt;
    mt.add_row({m["name"], m["address"], m["state"], rtt > 0 ? format_seconds(rtt) : "-"});
  }
  mt.print(std::cout);

  std::cout << std::flush;
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
            << format_bytes((*imported)["bytes"].get<double>()) << ") in " << format_seconds(since(t_import)) << "\n";

  // The workload.
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
    trace = synthetic_trace(layers, experts, top_k, o.tokens);
    source = "synthetic Zipf(1.1) workload, seed 7";
  }
  std::cout << "== 4. replaying " << trace.num_tokens() << " tokens (" << source << ") through node1's engine interface\n";
  auto status = call(cluster.nodes[0], "status");
  if (!status) return fail("status failed", cluster);
  auto engine = engine::EngineSegment::open((*status)["cache"]["shm_name"].get<std::string>());
  if (!engine) return fail(engine.error().message, cluster);
  const auto t_replay = Clock::now();
  for (std::size_t tok = 0; tok < trace.num_tokens(); ++tok) {
    for (std::size_t l = 0; l < layers; ++l) {
      const auto set = trace.set(tok, l);
      std::uint16_t ids[64];
      std::copy(set.begin(), set.end(), ids);
      (void)engine->record(static_cast<std::uint32_t>(l), {ids, set.size()});
    }
  }
  std::cout << "   " << engine->recorded() << " router decisions recorded in " << format_seconds(since(t_replay))
            << " (lock-free shared memory, no system calls)\n";
  auto activation = call(cluster.nodes[0], "activation");
  if (!activation) return fail("activation query failed", cluster);

  std::cout << "== 5. placement for this cluster: node1 is the client, every node caches within its disk budget\n";
  solver::Instance inst;
  inst.model = "olmoe-demo";
  inst.top_k = top_k;
  // Latencies as on a real edge cluster of this shape: full-size OLMoE experts (12.6 MB),
  // the documented edge profile's bandwidth and compute, and the RTTs gossip measured here.
  const auto shape = *solver::find_model_preset("olmoe-1b-7b");
  const solver::EdgeProfile edge;
  inst.expert_bytes.assign(layers, std::vector<std::uint64_t>(experts, shape.expert_bytes()));
  inst.hidden_state_bytes = static_cast<double>(shape.hidden_state_bytes());
  const double exec = static_cast<double>(shape.expert_bytes()) / edge.fast_compute_bytes_per_s;
  const std::uint64_t node_budget = static_cast<std::uint64_t>(o.budget_fraction * layers * experts) * shape.expert_bytes();
  for (const auto& n : cluster.nodes) inst.nodes.push_back({n.name, node_budget, std::vector<double>(layers, exec)});
  inst.clients.push_back({"node1", 1.0, std::size_t{0},
                          std::vector<double>(layers, static_cast<double>(shape.expert_bytes()) / edge.fallback_bytes_per_s)});
  for (const auto& n : cluster.nodes)
    inst.links.push_back({std::max(rtt_s[n.name], edge.ethernet_rtt_s), edge.ethernet_bytes_per_s});
  for (const auto& l : (*activation)["layers"]) {
    solver::LayerStats s;
    s.marginals = l["marginals"].get<std::vector<double>>();
    s.sets = l["sets"].get<std::vector<solver::ExpertId>>();
    s.weights = l["weights"].get<std::vector<double>>();
    inst.stats.push_back(std::move(s));
  }
  auto problem = solver::build_problem(inst);
  if (!problem) return fail("instance: " + problem.error().to_string(), cluster);
  Table st({"algorithm", "latency/token", "reduction", "vs nothing cached", "solve time"});
  std::optional<solver::SolveResult> best;
  for (auto a : {solver::Algorithm::sgd_fast, solver::Algorithm::sgd, solver::Algorithm::greedy_marginal,
                 solver::Algorithm::popularity_distinct, solver::Algorithm::layer_uniform, solver::Algorithm::popularity,
                 solver::Algorithm::random}) {
    const auto t = Clock::now();
    auto r = solver::solve(*problem, a);
    const double dt = since(t);
    if (!r) return fail(std::string(solver::algorithm_name(a)) + ": " + r.error().message, cluster);
    st.add_row({std::string(solver::algorithm_name(a)), format_seconds(r->latency_s), format_seconds(r->reduction_s),
                format_fixed(100.0 * r->reduction_s / r->empty_latency_s, 1) + " %", format_seconds(dt)});
    if (a == solver::Algorithm::sgd_fast) best = *r;
  }
  st.print(std::cout);
  std::cout << "   nothing cached: " << format_seconds(best->empty_latency_s)
            << " per token (every expert from node1's slow storage)\n   sgd-fast places:";
  for (std::size_t n = 0; n < cluster.nodes.size(); ++n) {
    std::size_t count = 0;
    for (std::size_t g = 0; g < best->placement.num_experts; ++g) count += best->placement.has(n, g) ? 1 : 0;
    std::cout << " " << cluster.nodes[n].name << "=" << count;
  }
  std::cout << " experts\n";

  std::cout << "== 6. stopping the cluster (SIGTERM: graceful leave)\n";
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
