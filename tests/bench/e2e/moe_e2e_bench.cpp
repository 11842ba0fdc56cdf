// End-to-end MoE latency: the OLMoE routing trace replayed through slimcache_moe_forward on a
// small emulated cluster, measured per token next to the solver's predicted T(x) for the
// placement each algorithm chose. See tests/bench/e2e/README.md for what is real and what
// is emulated (this kernel has no sch_netem, so link round trips are held by the servers).
//
//   moe_e2e_bench --trace FILE [--tokens 100] [--peers 3] [--peer-slots 96] [--client-slots 48]
//                 [--hidden 128] [--ffn 64] [--algorithms sgd-fast,popularity,random]
//                 [--fallback-ms 30] [--smoke]
//
// Nodes: node 0 is the client (its memory tier + engine segment + its daemon's ExecServer on
// a Unix socket, in this process); nodes 1..P are peers (ExecServers on loopback TLS), peer i
// on an Ethernet link when i is odd and a Wi-Fi link when even (solver::EdgeProfile); an
// origin (ExecServer holding every expert, answering after --fallback-ms) stands for D0.
// Instance: one client (node 0), statistics = every token of the trace (so the replay is the
// distribution the prediction is the expectation of), c_{n,l} = the measured time of one
// expert, h = the hidden state sent (hidden x 4 bytes), sizes = the scaled payloads.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include "agent/cache/memory_tier.hpp"
#include "agent/engine/engine_segment.hpp"
#include "agent/exec/exec_key.hpp"
#include "agent/exec/exec_server.hpp"
#include "agent/exec/expert_kernel.hpp"
#include "config/trace_reader.hpp"
#include "slimcache/client.h"
#include "solver/algorithms.hpp"
#include "solver/problem.hpp"
#include "solver/synthetic.hpp"
#include "tests/agent/exec/generated_expert.hpp"
#include "tests/agent/exec/map_expert_source.hpp"

namespace {

using namespace slimcache;
using namespace slimcache::agent;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string trace;
  std::size_t tokens = 100;
  std::size_t peers = 3;
  std::size_t peer_slots = 96;
  std::size_t client_slots = 48;
  std::uint32_t hidden = 128;
  std::uint32_t ffn = 64;
  std::string algorithms = "sgd-fast,popularity,random";
  double fallback_ms = 30.0;
  bool smoke = false;
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t b = 0;
  while (b <= s.size()) {
    const auto e = s.find(',', b);
    out.push_back(s.substr(b, e == std::string::npos ? std::string::npos : e - b));
    if (e == std::string::npos) break;
    b = e + 1;
  }
  return out;
}

std::shared_ptr<transfer::TlsContext> tls(transfer::TlsRole role) {
  const std::vector<std::uint8_t> key(32, 0x5c);
  transfer::TlsSettings settings;
  settings.role = role;
  settings.psk = exec::derive_exec_psk(key, "e2e-bench").value();
  return transfer::TlsContext::create(settings).value();
}

struct Link {
  double rtt_s;
  double bytes_per_s;
};

double percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<std::size_t>(q * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int run(const Options& o) {
  auto trace_or = config::read_trace_file(o.trace);
  if (!trace_or) {
    std::fprintf(stderr, "moe_e2e_bench: %s\n", trace_or.error().message.c_str());
    return 2;
  }
  const auto& trace = *trace_or;
  const std::size_t L = trace.num_layers, E = trace.num_experts, K = trace.top_k;
  const std::size_t tokens = std::min(o.tokens, trace.num_tokens());
  std::printf("trace %s: %zu tokens, %zu layers x %zu experts, top-%zu; replaying %zu tokens\n", o.trace.c_str(),
              trace.num_tokens(), L, E, K, tokens);

  // The scaled-down model: one bf16 SwiGLU expert per (layer, expert).
  std::vector<exec::testing::GeneratedExpert> experts;
  for (std::size_t g = 0; g < L * E; ++g)
    experts.push_back(exec::testing::generate_expert(exec::ExpertKind::k_swiglu, exec::WeightDtype::k_bf16, o.hidden,
                                                     o.ffn, 1000 + g));
  const std::uint64_t size = experts[0].payload.size();
  // c: the measured time of one expert at batch 1 (median of 200 runs).
  std::vector<double> runs;
  {
    const auto x = exec::testing::generate_activations(o.hidden, 1);
    std::vector<float> y(o.hidden);
    for (int i = 0; i < 200; ++i) {
      const auto t0 = Clock::now();
      (void)exec::run_expert(experts[static_cast<std::size_t>(i) % experts.size()].view, x, 1, y);
      runs.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    }
  }
  const double c = percentile(runs, 0.5);
  const double h = 4.0 * o.hidden;
  const solver::EdgeProfile edge;
  std::vector<Link> links{{0.0, 0.0}};  // node 0: the client itself
  for (std::size_t p = 1; p <= o.peers; ++p)
    links.push_back(p % 2 == 1 ? Link{edge.ethernet_rtt_s, edge.ethernet_bytes_per_s} : Link{edge.wifi_rtt_s, edge.wifi_bytes_per_s});
  std::printf("expert %.1f KiB (hidden %u, ffn %u, bf16), c = %.1f us, h = %.0f B, D0 = %.1f ms\n",
              static_cast<double>(size) / 1024, o.hidden, o.ffn, c * 1e6, h, o.fallback_ms);

  // The instance.
  solver::Instance inst;
  inst.model = "olmoe-scaled";
  inst.top_k = K;
  inst.expert_bytes.assign(L, std::vector<std::uint64_t>(E, size));
  inst.hidden_state_bytes = h;
  for (std::size_t n = 0; n <= o.peers; ++n)
    inst.nodes.push_back({"node" + std::to_string(n), (n == 0 ? o.client_slots : o.peer_slots) * size,
                          std::vector<double>(L, c)});
  inst.clients.push_back({"client", 1.0, 0, std::vector<double>(L, o.fallback_ms / 1000.0)});
  for (std::size_t n = 0; n <= o.peers; ++n) inst.links.push_back({links[n].rtt_s, n == 0 ? 1e12 : links[n].bytes_per_s});
  for (std::size_t l = 0; l < L; ++l) {
    solver::LayerStats st;
    for (std::size_t t = 0; t < tokens; ++t) {
      const auto s = trace.set(t, l);
      st.sets.insert(st.sets.end(), s.begin(), s.end());
      st.weights.push_back(1.0);
    }
    inst.stats.push_back(std::move(st));
  }
  auto problem = solver::build_problem(inst);
  if (!problem) {
    std::fprintf(stderr, "moe_e2e_bench: instance: %s\n", problem.error().to_string().c_str());
    return 2;
  }

  std::printf("\n%-12s %12s %12s %12s %9s %9s %9s %9s\n", "algorithm", "predicted ms", "measured ms", "p99 ms",
              "error", "in-proc", "peer", "origin");
  std::map<std::string, std::pair<double, double>> results;  // predicted, measured
  int round = 0;
  for (const auto& algo_name : split(o.algorithms)) {
    const std::string name = "slimcache-e2e-" + std::to_string(::getpid()) + "-" + std::to_string(round++);
    const std::string socket = (std::filesystem::temp_directory_path() / (name + ".sock")).string();
    const auto algo = solver::find_algorithm(algo_name);
    if (!algo) {
      std::fprintf(stderr, "moe_e2e_bench: unknown algorithm %s\n", algo_name.c_str());
      return 2;
    }
    auto solved = solver::solve(*problem, *algo);
    if (!solved) {
      std::fprintf(stderr, "moe_e2e_bench: %s: %s\n", algo_name.c_str(), solved.error().message.c_str());
      return 2;
    }
    const auto& x = solved->placement;

    // Install the placement: node 0's memory tier, the peers' sources, the origin has all.
    cache::MemoryTierOptions mt{name, "olmoe-scaled", static_cast<std::uint32_t>(L), static_cast<std::uint32_t>(E),
                                (o.client_slots + 4) * ((size + 8191) / 4096 * 4096) + (4u << 20), size, 64};
    auto tier = cache::MemoryTier::create(mt, platform::SystemClock::instance());
    if (!tier) {
      std::fprintf(stderr, "moe_e2e_bench: memory tier: %s\n", tier.error().message.c_str());
      return 2;
    }
    auto segment = engine::EngineSegment::create(name, {static_cast<std::uint32_t>(L), static_cast<std::uint32_t>(E), 1u << 16, "olmoe-scaled"});
    if (!segment) {
      std::fprintf(stderr, "moe_e2e_bench: engine segment: %s\n", segment.error().message.c_str());
      return 2;
    }
    std::vector<std::unique_ptr<exec::testing::MapExpertSource>> sources;
    std::vector<std::unique_ptr<exec::ExecServer>> servers;
    std::vector<engine::NodeAddress> table;
    for (std::size_t n = 0; n <= o.peers; ++n) {  // index 0 of `table` = the origin
      sources.push_back(std::make_unique<exec::testing::MapExpertSource>("olmoe-scaled", L, E));
      exec::ExecServerOptions so;
      so.tls_server = tls(transfer::TlsRole::k_server);
      const double delay_s = n == 0 ? o.fallback_ms / 1000.0 : links[n].rtt_s + 2.0 * h / links[n].bytes_per_s;
      so.emulated_delay = std::chrono::microseconds(static_cast<long>(delay_s * 1e6));
      for (std::size_t g = 0; g < L * E; ++g) {
        if (n == 0 || x.has(n, g)) sources.back()->put(static_cast<std::uint32_t>(g / E), static_cast<std::uint32_t>(g % E), experts[g].payload.bytes());
      }
      servers.push_back(exec::ExecServer::start(*sources.back(), so).value());
      table.push_back({n == 0 ? "origin" : "node" + std::to_string(n), "127.0.0.1:" + std::to_string(servers.back()->tcp_port())});
    }
    std::vector<engine::HolderInfo> holders(L * E);
    for (std::size_t g = 0; g < L * E; ++g) {
      auto& hi = holders[g];
      if (x.has(0, g)) {
        const auto& p = experts[g].payload;
        (void)(*tier)->load(static_cast<std::uint32_t>(g / E), static_cast<std::uint32_t>(g % E),
                            [&](std::span<std::byte> dst) -> Expected<std::size_t, cache::CacheError> {
                              std::copy(p.data(), p.data() + p.size(), dst.begin());
                              return p.size();
                            });
        hi.location = engine::layout::k_memory;
        continue;
      }
      // The nearest holder (lowest D), else the origin (the fallback).
      std::size_t best = 0;
      double best_d = o.fallback_ms / 1000.0;
      for (std::size_t n = 1; n <= o.peers; ++n) {
        const double d = links[n].rtt_s + 2.0 * h / links[n].bytes_per_s + c;
        if (x.has(n, g) && d < best_d) {
          best = n;
          best_d = d;
        }
      }
      hi.location = engine::layout::k_peer;
      hi.holders = {static_cast<std::uint16_t>(best)};
    }
    segment->publish_holders(table, holders);
    exec::testing::MapExpertSource empty("olmoe-scaled", L, E);  // the client's daemon holds nothing itself
    exec::ExecServerOptions daemon_options;
    daemon_options.unix_path = socket;
    daemon_options.tls_client = tls(transfer::TlsRole::k_client);
    daemon_options.forward_timeout = std::chrono::milliseconds(5000);
    auto daemon = exec::ExecServer::start(empty, daemon_options).value();

    slimcache_client* client = nullptr;
    char err[256] = {};
    if (slimcache_open(name.c_str(), &client, err, sizeof err) != SLIMCACHE_OK ||
        slimcache_set_exec_socket(client, socket.c_str()) != SLIMCACHE_OK) {
      std::fprintf(stderr, "moe_e2e_bench: open: %s\n", err);
      return 2;
    }
    const auto xin = exec::testing::generate_activations(o.hidden, 7);
    std::vector<float> out(o.hidden);
    std::vector<float> gates(K, 1.0f / static_cast<float>(K));
    std::vector<double> per_token;
    slimcache_moe_report total{};
    bool warm = false;
    for (std::size_t t = 0; t < tokens + 1; ++t) {  // one warm-up token opens the connections
      const std::size_t tok = warm ? t - 1 : 0;
      const auto t0 = Clock::now();
      for (std::size_t l = 0; l < L; ++l) {
        const auto s = trace.set(tok, l);
        slimcache_moe_report rep{};
        const int rc = slimcache_moe_forward(client, static_cast<std::uint32_t>(l), static_cast<std::uint32_t>(K),
                                             s.data(), gates.data(), xin.data(), o.hidden, out.data(), &rep);
        if (rc != SLIMCACHE_OK) {
          std::fprintf(stderr, "moe_e2e_bench: token %zu layer %zu: %s\n", tok, l, slimcache_status_string(rc));
          return 1;
        }
        if (warm) {
          total.in_process += rep.in_process;
          total.peer += rep.peer;
          total.daemon += rep.daemon;
        }
      }
      if (warm) per_token.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
      warm = true;
    }
    slimcache_close(client);
    daemon->stop();
    for (auto& s : servers) s->stop();
    engine::EngineSegment::remove(name);
    tier.value().reset();

    // Experts answered by the origin count as peer answers in the report: split them by the table.
    std::size_t origin = 0;
    for (std::size_t t = 0; t < tokens; ++t)
      for (std::size_t l = 0; l < L; ++l)
        for (auto e : trace.set(t, l)) {
          const std::size_t g = l * E + e;
          if (!x.has(0, g) && holders[g].holders[0] == 0) ++origin;
        }
    double mean = 0.0;
    for (double v : per_token) mean += v;
    mean /= static_cast<double>(per_token.size());
    const double predicted = solved->latency_s;
    results[algo_name] = {predicted, mean};
    std::printf("%-12s %12.2f %12.2f %12.2f %+8.1f%% %9u %9zu %9zu\n", algo_name.c_str(), predicted * 1e3, mean * 1e3,
                percentile(per_token, 0.99) * 1e3, 100.0 * (mean - predicted) / predicted, total.in_process,
                total.peer - origin, origin);
  }
  if (results.count("sgd-fast") != 0) {
    const auto [sp, sm] = results["sgd-fast"];
    for (const auto& [algo, pm] : results) {
      if (algo == "sgd-fast") continue;
      const double predicted_margin = pm.first - sp;
      const double measured_margin = pm.second - sm;
      std::printf("sgd-fast vs %-11s predicted margin %.2f ms, measured %.2f ms (%+.1f%%)\n", algo.c_str(),
                  predicted_margin * 1e3, measured_margin * 1e3,
                  predicted_margin != 0.0 ? 100.0 * (measured_margin - predicted_margin) / predicted_margin : 0.0);
    }
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (const char* dir = std::getenv("SLIMCACHE_TRACES_DIR")) o.trace = std::string(dir) + "/olmoe-decode/trace_olmoe_299.jsonl";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "moe_e2e_bench: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--trace") o.trace = next();
    else if (a == "--tokens") o.tokens = std::stoul(next());
    else if (a == "--peers") o.peers = std::stoul(next());
    else if (a == "--peer-slots") o.peer_slots = std::stoul(next());
    else if (a == "--client-slots") o.client_slots = std::stoul(next());
    else if (a == "--hidden") o.hidden = static_cast<std::uint32_t>(std::stoul(next()));
    else if (a == "--ffn") o.ffn = static_cast<std::uint32_t>(std::stoul(next()));
    else if (a == "--algorithms") o.algorithms = next();
    else if (a == "--fallback-ms") o.fallback_ms = std::stod(next());
    else if (a == "--smoke") o.smoke = true;
    else {
      std::fprintf(stderr, "usage: moe_e2e_bench --trace FILE [--tokens N] [--peers P] [--peer-slots S] "
                           "[--client-slots S] [--hidden H] [--ffn F] [--algorithms a,b] [--fallback-ms D0] [--smoke]\n");
      return 2;
    }
  }
  if (o.smoke) {
    o.tokens = 3;
    o.algorithms = "popularity";
    o.fallback_ms = 1.0;
  }
  if (o.trace.empty()) {
    std::printf("SKIP: no trace (set SLIMCACHE_TRACES_DIR or give --trace)\n");
    return 0;
  }
  return run(o);
}
