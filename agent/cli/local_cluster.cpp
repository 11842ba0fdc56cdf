#include "agent/cli/local_cluster.hpp"

#include <algorithm>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <asio.hpp>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <numeric>
#include <random>

#include "agent/admin/admin_client.hpp"
#include "agent/engine/engine_segment.hpp"
#include "agent/gossip/keyring.hpp"

namespace slimcache::agent::cli {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// A base port with `count` consecutive free UDP+TCP ports on loopback.
std::uint16_t free_ports(int count) {
  std::mt19937 rng(static_cast<unsigned>(::getpid()) ^ static_cast<unsigned>(::time(nullptr)));
  for (int attempt = 0; attempt < 50; ++attempt) {
    // Below Linux's ephemeral range (32768-60999 by default): a restarted daemon must get its
    // port back, which an outgoing connection's source port could otherwise hold.
    const auto base = static_cast<std::uint16_t>(20000 + rng() % static_cast<unsigned>(32768 - 20000 - count));
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

}  // namespace

std::string find_slimcached(const std::string& given) {
  if (!given.empty()) return given;
  std::error_code ec;
  const auto self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::exists(self.parent_path() / "slimcached")) return (self.parent_path() / "slimcached").string();
  if (!ec && fs::exists(self.parent_path().parent_path() / "sbin" / "slimcached"))
    return (self.parent_path().parent_path() / "sbin" / "slimcached").string();
  return "slimcached";
}

std::optional<LocalCluster> LocalCluster::create(LocalClusterOptions options, std::string& error) {
  LocalCluster c;
  c.m_options = options;
  c.keep = options.keep;
  c.m_binary = find_slimcached(options.slimcached);
  // $TMPDIR when set (the cluster benchmark keeps its files off a busy /tmp), else /tmp.
  const char* tmpdir = std::getenv("TMPDIR");
  std::string tmpl = std::string(tmpdir != nullptr && *tmpdir != '\0' ? tmpdir : "/tmp") + "/slimcache-cluster-XXXXXX";
  if (::mkdtemp(tmpl.data()) == nullptr) {
    error = "cannot create a temporary directory";
    return std::nullopt;
  }
  c.dir = tmpl;
  const int total = options.nodes + options.spare_nodes;
  const std::uint16_t base = free_ports(total * 3);
  if (base == 0) {
    error = "no free loopback ports";
    return std::nullopt;
  }
  // One cluster key (gossip encryption; the transfer PSK derives from it), mode 0600.
  gossip::Key key{};
  std::random_device rd;
  for (auto& b : key) b = static_cast<std::uint8_t>(rd());
  const auto keyring = c.dir / "cluster.keyring";
  std::ofstream(keyring) << gossip::key_to_base64(key) << "\n";
  ::chmod(keyring.c_str(), 0600);
  // The first three nodes are everyone's seeds: a seed restarted after the others reaped it
  // still finds the cluster through another one.
  std::string seeds;
  for (int i = 0; i < std::min(total, 3); ++i)
    seeds += (i > 0 ? ", " : "") + std::string("\"127.0.0.1:") + std::to_string(base + i) + "\"";
  for (int i = 0; i < total; ++i) {
    LocalNode n;
    n.name = "node" + std::to_string(i + 1);
    n.config = c.dir / (n.name + ".toml");
    // Each daemon gets its own runtime directory: the exec socket lives beside the admin one.
    fs::create_directories(c.dir / ("run-" + n.name));
    n.socket = c.dir / ("run-" + n.name) / "admin.sock";
    n.state_dir = c.dir / n.name;
    n.log = c.dir / (n.name + ".log");
    n.gossip_port = static_cast<std::uint16_t>(base + i);
    n.transfer_port = static_cast<std::uint16_t>(base + total + i);
    n.execution_port = static_cast<std::uint16_t>(base + 2 * total + i);
    n.disk_budget = i == 0 && options.origin_disk_budget != 0 ? options.origin_disk_budget : options.disk_budget;
    std::ofstream(n.config) << "[node]\nname = \"" << n.name << "\"\nstate_dir = \"" << n.state_dir.string()
                            << "\"\n[budgets]\ndisk = \"" << n.disk_budget / 1024 << "KiB\"\nmemory = \""
                            << options.memory_budget / 1024 << "KiB\"\n[network]\ngossip_port = " << n.gossip_port
                            << "\ntransfer_port = " << n.transfer_port << "\nexecution_port = " << n.execution_port
                            << "\n[gossip]\nprofile = \"" << options.gossip_profile
                            << "\"\n[cluster]\nlabel = \"local\"\nseeds = [" << seeds
                            << "]\n[security]\nkeyring_files = [\"" << keyring.string() << "\"]\n[placement]\nalgorithm = \""
                            << options.algorithm << "\"\nmin_epoch_interval = \"" << options.min_epoch_interval
                            << "\"\npublish_timeout = \"" << options.publish_timeout << "\"\n"
                            << options.placement_toml << "[admin]\nsocket_path = \""
                            << n.socket.string() << "\"\n"
                            << options.extra_toml;
    c.nodes.push_back(std::move(n));
  }
  return c;
}

LocalCluster::LocalCluster(LocalCluster&& o) noexcept
    : nodes(std::move(o.nodes)), dir(std::move(o.dir)), keep(o.keep), m_options(std::move(o.m_options)),
      m_binary(std::move(o.m_binary)) {
  o.nodes.clear();
  o.dir.clear();
}

LocalCluster::~LocalCluster() { stop(); }

bool LocalCluster::start(std::size_t i) {
  auto& n = nodes.at(i);
  if (n.pid > 0) return true;
  n.pid = ::fork();
  if (n.pid < 0) return false;
  if (n.pid == 0) {
    if (std::freopen(n.log.c_str(), "a", stderr) == nullptr) ::_exit(126);
    ::execlp(m_binary.c_str(), "slimcached", "--config", n.config.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return true;
}

bool LocalCluster::start_all() {
  for (int i = 0; i < m_options.nodes; ++i)
    if (!start(static_cast<std::size_t>(i))) return false;
  return true;
}

void LocalCluster::kill(std::size_t i, int signo) {
  auto& n = nodes.at(i);
  if (n.pid <= 0) return;
  ::kill(n.pid, signo);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(n.pid, nullptr, WNOHANG) == n.pid) {
      n.pid = -1;
      return;
    }
    struct timespec ts{0, 20'000'000};
    ::nanosleep(&ts, nullptr);
  }
  ::kill(n.pid, SIGKILL);
  ::waitpid(n.pid, nullptr, 0);
  n.pid = -1;
}

bool LocalCluster::running(std::size_t i) {
  auto& n = nodes.at(i);
  if (n.pid > 0 && ::waitpid(n.pid, nullptr, WNOHANG) == n.pid) n.pid = -1;
  return n.pid > 0;
}

void LocalCluster::stop() {
  for (auto& n : nodes)
    if (n.pid > 0) ::kill(n.pid, SIGTERM);
  for (std::size_t i = 0; i < nodes.size(); ++i) kill(i, SIGTERM);
  if (!keep && !dir.empty()) {
    std::error_code ec;
    fs::remove_all(dir, ec);
    dir.clear();
  }
}

std::optional<nlohmann::json> LocalCluster::call(std::size_t i, const std::string& cmd, const nlohmann::json& args,
                                                 std::chrono::milliseconds timeout, std::string* error) const {
  auto r = admin::call({nodes.at(i).socket.string(), timeout}, cmd, args);
  if (!r) {
    if (error != nullptr) *error = r.error().message;
    return std::nullopt;
  }
  return std::move(r).value();
}

bool wait_members(const LocalCluster& cluster, std::size_t count, std::chrono::milliseconds limit) {
  return cluster.wait_for(
      [&] {
        for (std::size_t i = 0; i < cluster.nodes.size(); ++i) {
          if (cluster.nodes[i].pid <= 0) continue;
          auto s = cluster.call(i, "status", {}, 1s);
          if (!s || (*s)["members"].get<std::size_t>() != count) return false;
        }
        return true;
      },
      limit);
}

solver::RoutingTrace synthetic_trace(std::uint32_t layers, std::uint32_t experts, std::uint32_t k, int tokens,
                                     std::uint64_t seed) {
  solver::RoutingTrace t;
  t.num_layers = layers;
  t.top_k = k;
  t.num_experts = experts;
  std::mt19937_64 rng(seed);
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

Expected<std::uint64_t, std::string> record_trace(const std::string& shm_name, const solver::RoutingTrace& trace) {
  auto engine = engine::EngineSegment::open(shm_name);
  if (!engine) return Unexpected(engine.error().message);
  for (std::size_t tok = 0; tok < trace.num_tokens(); ++tok) {
    for (std::size_t l = 0; l < trace.num_layers; ++l) {
      const auto set = trace.set(tok, l);
      std::uint16_t ids[engine::layout::k_max_top_k];
      const auto k = std::min<std::size_t>(set.size(), engine::layout::k_max_top_k);
      std::copy_n(set.begin(), k, ids);
      (void)engine->record(static_cast<std::uint32_t>(l), {ids, k});
    }
  }
  return engine->recorded();
}

}  // namespace slimcache::agent::cli
