// Crash consistency of the disk and memory tiers: SIGKILLs slimcached at random moments
// during imports, evictions and memory loads, restarts it, and after every restart checks
//   - the disk tier verifies: every expert `cache.ls` lists has the SHA-256 of the payload
//     the importer makes from the generated checkpoint, and nothing is quarantined;
//   - nothing corrupt is served: experts loaded into memory and read through the C API
//     (slimcache_pin) hash to the same SHA-256;
// and at the end that the cache converges: one uninterrupted import leaves every expert
// on disk, verified.
//   crash_consistency --slimcached PATH [--iterations N] [--seed S] [--keep]
// Prints: iterations, kills, experts and bytes verified, corruptions, quarantined files.
// Exit: 0 pass, 1 a check failed (the seed is printed to reproduce), 2 usage/setup.
// Every wait is bounded; the daemon is killed and the directory removed on every path.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <string>
#include <thread>

#include "agent/admin/admin_client.hpp"
#include "agent/cache/disk_tier.hpp"
#include "agent/model/checkpoint_writer.hpp"
#include "agent/model/importer.hpp"
#include "slimcache/client.h"

namespace {

namespace fs = std::filesystem;
namespace admin = slimcache::agent::admin;
namespace cache = slimcache::agent::cache;
namespace model = slimcache::agent::model;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Options {
  std::string slimcached;
  int iterations = 10;
  std::uint64_t seed = 0;
  bool keep = false;
};

struct Counts {
  int iterations = 0;
  int kills = 0;
  int exited_early = 0;
  std::uint64_t experts_verified = 0;
  std::uint64_t bytes_verified = 0;
  std::uint64_t pinned_reads = 0;
  int corruptions = 0;
  int quarantined = 0;
  int restarts_failed = 0;
  int imports_disturbed = 0;
  int imports_completed = 0;
  int evictions_disturbed = 0;
  int loads_disturbed = 0;
};

constexpr std::uint32_t k_layers = 4, k_experts = 16;

class Harness {
 public:
  Harness(Options o, fs::path dir) : m_o(std::move(o)), m_dir(std::move(dir)), m_rng(m_o.seed) {}
  ~Harness() { kill_daemon(SIGKILL); }

  bool setup() {
    const auto ckpt = m_dir / "checkpoint";
    model::write_checkpoint(ckpt, {model::Family::k_olmoe, k_layers, k_experts, 2, 64, 32, 2, slimcache::config::DType::k_bf16});
    auto plan = model::plan_import({ckpt.string(), "", 0});
    if (!plan) return error("plan_import: " + plan.error());
    m_expert_bytes = plan->manifest.expert_bytes;
    auto report = model::run_import(
        *plan,
        [this](std::uint32_t l, std::uint32_t e, std::span<const std::byte> payload) -> slimcache::Expected<void, std::string> {
          m_expected[{l, e}] = cache::to_hex(cache::sha256_of(payload));
          return {};
        },
        [](std::uint32_t, std::uint32_t) {});
    if (!report) return error("run_import: " + report.error());
    m_name = "crash" + std::to_string(::getpid());
    m_socket = m_dir / "admin.sock";
    std::ofstream(m_dir / "slimcached.toml")
        << "[node]\nname = \"" << m_name << "\"\nstate_dir = \"" << (m_dir / "state").string() << "\"\n"
        << "[budgets]\ndisk = \"64MiB\"\nmemory = \"" << (6 * m_expert_bytes + 1023) / 1024 << "KiB\"\n"
        << "[network]\ngossip_port = 0\ntransfer_port = 0\nexecution_port = 0\n"
        << "[gossip]\nprofile = \"local\"\n[admin]\nsocket_path = \"" << m_socket.string() << "\"\n";
    return true;
  }

  bool start() {
    m_pid = ::fork();
    if (m_pid < 0) return error("fork failed");
    if (m_pid == 0) {
      const auto log = (m_dir / "slimcached.log").string();
      if (!std::freopen(log.c_str(), "a", stderr)) ::_exit(126);
      ::execl(m_o.slimcached.c_str(), "slimcached", "--config", (m_dir / "slimcached.toml").c_str(), static_cast<char*>(nullptr));
      ::_exit(127);
    }
    const auto deadline = Clock::now() + 20s;
    while (Clock::now() < deadline) {
      if (call("status", {}, 1s)) return true;
      int st = 0;
      if (::waitpid(m_pid, &st, WNOHANG) == m_pid) {
        m_pid = -1;
        return error("slimcached exited at start (see " + (m_dir / "slimcached.log").string() + ")");
      }
      std::this_thread::sleep_for(20ms);
    }
    return error("slimcached did not answer status within 20 s");
  }

  void kill_daemon(int sig) {
    if (m_pid <= 0) return;
    ::kill(m_pid, sig);
    const auto deadline = Clock::now() + 10s;
    while (Clock::now() < deadline && ::waitpid(m_pid, nullptr, WNOHANG) != m_pid) std::this_thread::sleep_for(5ms);
    if (::waitpid(m_pid, nullptr, WNOHANG) == 0) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, nullptr, 0);
    }
    m_pid = -1;
  }

  std::optional<nlohmann::json> call(const std::string& cmd, const nlohmann::json& args = nlohmann::json::object(),
                                     std::chrono::milliseconds timeout = 10s) {
    auto r = admin::call({m_socket.string(), timeout}, cmd, args);
    if (!r) {
      m_last_error = r.error().message;
      return std::nullopt;
    }
    return *r;
  }

  // One workload, cut short by a SIGKILL after a random delay.
  void disturbed_iteration() {
    std::uniform_int_distribution<int> action(0, 2);
    const int a = m_imported ? action(m_rng) : 0;
    // Up to 1.5 x an undisturbed import (measured), so kills land everywhere in it.
    const auto delay = std::chrono::microseconds(
        std::uniform_int_distribution<std::int64_t>(0, std::max<std::int64_t>(20000, m_import_us * 3 / 2))(m_rng));
    const pid_t victim = m_pid;
    std::atomic<bool> killed{false};
    std::thread killer([victim, delay, &killed] {
      std::this_thread::sleep_for(delay);
      ::kill(victim, SIGKILL);
      killed = true;
    });
    std::vector<std::pair<std::uint32_t, std::uint32_t>> picks;
    for (int i = 0; i < 24; ++i)
      picks.emplace_back(std::uniform_int_distribution<std::uint32_t>(0, k_layers - 1)(m_rng),
                         std::uniform_int_distribution<std::uint32_t>(0, k_experts - 1)(m_rng));
    if (a == 0) {
      ++m_counts.imports_disturbed;
      if (call("import", {{"model_dir", (m_dir / "checkpoint").string()}}, 20s)) {
        m_imported = true;
        ++m_counts.imports_completed;
      }
    } else if (a == 1) {
      ++m_counts.evictions_disturbed;
      for (const auto& [l, e] : picks) {
        if (killed) break;
        (void)call("cache.evict", {{"layer", l}, {"expert", e}}, 2s);
      }
    } else {
      ++m_counts.loads_disturbed;
      for (const auto& [l, e] : picks) {
        if (killed) break;
        (void)call("cache.pin", {{"layer", l}, {"expert", e}}, 2s);
      }
    }
    killer.join();
    ::waitpid(m_pid, nullptr, 0);
    m_pid = -1;
    ++m_counts.kills;
  }

  // After a restart: the disk tier holds only verified experts; memory serves verified bytes.
  bool verify(bool expect_complete) {
    auto ls = call("cache.ls");
    if (!ls) {
      if (!expect_complete && m_last_error.find("no model") != std::string::npos) return true;
      return error("cache.ls failed: " + m_last_error);
    }
    bool ok = true;
    for (const auto& q : (*ls)["quarantined"]) {
      ++m_counts.quarantined;
      ok = error("quarantined after a restart: " + q.dump());
    }
    std::vector<std::pair<std::uint32_t, std::uint32_t>> present;
    for (const auto& x : (*ls)["experts"]) {
      const std::pair<std::uint32_t, std::uint32_t> key{x["layer"].get<std::uint32_t>(), x["expert"].get<std::uint32_t>()};
      const auto it = m_expected.find(key);
      if (it == m_expected.end() || x["sha256"].get<std::string>() != it->second) {
        ++m_counts.corruptions;
        ok = error("disk tier lists a wrong expert: " + x.dump());
        continue;
      }
      ++m_counts.experts_verified;
      present.push_back(key);
    }
    if (expect_complete && present.size() != m_expected.size())
      ok = error("after a complete import " + std::to_string(present.size()) + " of " + std::to_string(m_expected.size()) +
                 " experts are on disk");
    if (present.empty()) return ok;
    // Read some back through the C API (all of them when checking convergence).
    auto status = call("status");
    if (!status || !(*status)["cache"].is_object()) return error("status has no cache: " + m_last_error);
    const auto shm = (*status)["cache"]["shm_name"].get<std::string>();
    slimcache_client* client = nullptr;
    char err[256] = {};
    if (slimcache_open(shm.c_str(), &client, err, sizeof err) != SLIMCACHE_OK) return error(std::string("slimcache_open: ") + err);
    std::shuffle(present.begin(), present.end(), m_rng);
    if (!expect_complete && present.size() > 4) present.resize(4);
    for (const auto& [l, e] : present) {
      if (!call("cache.pin", {{"layer", l}, {"expert", e}})) {
        ok = error("cache.pin " + std::to_string(l) + "/" + std::to_string(e) + ": " + m_last_error);
        continue;
      }
      slimcache_expert x{};
      const int rc = slimcache_pin(client, l, e, &x);
      if (rc != SLIMCACHE_OK) {
        ok = error(std::string("slimcache_pin: ") + slimcache_status_string(rc));
      } else {
        const auto digest = cache::to_hex(cache::sha256_of({static_cast<const std::byte*>(x.data), static_cast<std::size_t>(x.size)}));
        if (digest != m_expected[{l, e}]) {
          ++m_counts.corruptions;
          ok = error("served bytes of " + std::to_string(l) + "/" + std::to_string(e) + " do not match the checkpoint");
        } else {
          ++m_counts.pinned_reads;
          m_counts.bytes_verified += x.size;
        }
        slimcache_unpin(client, &x);
      }
      (void)call("cache.unpin", {{"layer", l}, {"expert", e}});
    }
    slimcache_close(client);
    return ok;
  }

  int run() {
    if (!setup() || !start()) return 2;
    bool ok = true;
    for (int i = 0; i < m_o.iterations; ++i) {
      ++m_counts.iterations;
      disturbed_iteration();
      if (!start()) {
        ++m_counts.restarts_failed;
        ok = false;
        break;
      }
      if (!verify(false)) {
        ok = false;
        std::cerr << "iteration " << i << " failed (seed " << m_o.seed << ")\n";
        break;
      }
      // Half the time a node without a complete model gets one undisturbed import, so that
      // later kills also land in evictions, memory loads and re-imports over a full cache.
      if (!m_imported && std::uniform_int_distribution<int>(0, 1)(m_rng) == 1) {
        const auto t = Clock::now();
        if (!call("import", {{"model_dir", (m_dir / "checkpoint").string()}}, 60s)) {
          ok = error("undisturbed import: " + m_last_error);
          break;
        }
        m_import_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
        m_imported = true;
        ++m_counts.imports_completed;
        if (!verify(true)) {
          ok = false;
          break;
        }
      }
    }
    if (ok) {
      // Convergence: one uninterrupted import, then everything verifies and reads back.
      if (!call("import", {{"model_dir", (m_dir / "checkpoint").string()}}, 60s)) ok = error("final import: " + m_last_error);
      else ok = verify(true);
    }
    kill_daemon(SIGTERM);
    std::printf("crash consistency (seed %llu): %d iterations, %d kills (during %d imports, %d eviction runs, %d memory-load "
                "runs), %d imports completed, %llu experts verified on disk, %llu served reads verified (%llu bytes), "
                "%d corruptions, %d quarantined, %d failed restarts: %s\n",
                static_cast<unsigned long long>(m_o.seed), m_counts.iterations, m_counts.kills, m_counts.imports_disturbed,
                m_counts.evictions_disturbed, m_counts.loads_disturbed, m_counts.imports_completed,
                static_cast<unsigned long long>(m_counts.experts_verified),
                static_cast<unsigned long long>(m_counts.pinned_reads),
                static_cast<unsigned long long>(m_counts.bytes_verified), m_counts.corruptions, m_counts.quarantined,
                m_counts.restarts_failed, ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
  }

 private:
  bool error(const std::string& message) {
    std::cerr << "crash_consistency: " << message << "\n";
    return false;
  }

  Options m_o;
  fs::path m_dir;
  std::mt19937_64 m_rng;
  std::string m_name;
  fs::path m_socket;
  pid_t m_pid = -1;
  std::uint64_t m_expert_bytes = 0;
  bool m_imported = false;
  std::int64_t m_import_us = 0;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::string> m_expected;
  std::string m_last_error;
  Counts m_counts;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.seed = static_cast<std::uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--slimcached" && i + 1 < argc) o.slimcached = argv[++i];
    else if (a == "--iterations" && i + 1 < argc) o.iterations = std::atoi(argv[++i]);
    else if (a == "--seed" && i + 1 < argc) o.seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--keep") o.keep = true;
    else {
      std::fprintf(stderr, "usage: crash_consistency --slimcached PATH [--iterations N] [--seed S] [--keep]\n");
      return 2;
    }
  }
  if (o.slimcached.empty() || o.iterations < 0) {
    std::fprintf(stderr, "crash_consistency: --slimcached is required\n");
    return 2;
  }
  char tmpl[] = "/tmp/slimcache-crash-XXXXXX";
  if (::mkdtemp(tmpl) == nullptr) return 2;
  const fs::path dir(tmpl);
  std::printf("crash consistency: seed %llu, %d iterations, state in %s\n", static_cast<unsigned long long>(o.seed),
              o.iterations, tmpl);
  int rc = 0;
  {
    Harness h(o, dir);
    rc = h.run();
  }
  std::error_code ec;
  if (!o.keep) fs::remove_all(dir, ec);
  return rc;
}
