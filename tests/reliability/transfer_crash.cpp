// Crash consistency of expert transfers and placement epochs: real slimcached processes on
// loopback (LocalCluster: one cluster key, TLS-PSK transfers, decentralised placement). The
// origin (node1) imports a model; the others place and fetch experts over TLS. Each
// iteration makes transfer work and SIGKILLs a node in it:
//   work    an engine node's workload shifts (a new seeded trace) and an epoch is forced on
//           a node other than the victim;
//   victim  even iterations: a random non-origin node (the fetching node); odd ones: the
//           origin (the serving node, which holds every expert);
//   kill    half of the time after a random delay of up to 1.5 x an undisturbed shift's
//           settle time, half at the first transfer seen in flight;
//   again   half of the time a second kill of a random node lands in the recovery from the
//           first (the membership epoch and the fetches a restart brings).
// Before each kill it records whether a transfer was in flight (the victim's own fetches, or
// for the origin its peers') and whether the victim's epoch was unsettled. After every kill:
//   - the disk tier verifies: the victim's data directory, opened offline with full SHA-256
//     verification while the daemon is down, holds only experts with the origin's SHA-256
//     and nothing is quarantined;
//   - the victim restarts once the survivors have reaped it (--fast-restart: at once, which
//     shows a known gossip issue: the peers ignore the new process's state, see
//     docs/fault-model.md);
//   - nothing corrupt is served: up to 4 (all, at the end) experts the victim holds are
//     pinned and read through the C API (slimcache_pin) and hashed;
//   - transfers resume and the cache converges: within a bounded time every node settles on
//     one epoch, holds everything it plans, and every expert has a holder.
//
// --scenario disk-full (root only; exit 77 otherwise): node2's state directory is a small
// tmpfs, too small for what node2 plans to hold, so its fetches fill it up mid-transfer.
// Checks: the failed fetches are logged with the cause, node2 keeps running and serving what
// it holds (C API reads), and after the file system grows (remount) the cluster converges
// without a restart and no partial blob is left. Whether the partial of the failed fetch is
// discarded at once is reported (a known issue: it is kept; --strict makes that a failure).
//
//   transfer_crash --slimcached PATH [--scenario kills|disk-full] [--iterations N] [--seed S]
//                  [--nodes N] [--strict] [--fast-restart] [--keep]
// --strict: an epoch regression (a known placement issue, see converge()) or a partial kept
// after ENOSPC fails the run.
// Prints per run: iterations, kills (fetching/serving node, during transfers, during
// unsettled epochs), experts and bytes verified, resumed transfers, corruptions.
// Exit: 0 pass, 1 a check failed (the seed is printed), 2 usage/setup, 77 skipped. Every
// wait is bounded.
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "agent/cache/disk_tier.hpp"
#include "agent/cli/local_cluster.hpp"
#include "agent/model/checkpoint_writer.hpp"
#include "agent/model/importer.hpp"
#include "platform/posix_env.hpp"
#include "slimcache/client.h"
#include "tests/agent/daemon/cluster_observer.hpp"

namespace {

namespace fs = std::filesystem;
namespace cache = slimcache::agent::cache;
namespace cli = slimcache::agent::cli;
namespace model = slimcache::agent::model;
namespace obs = slimcache::agent::cluster_obs;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// 4 layers x 16 experts of 3 x 256 x 256 bf16 = 384 KiB each (24 MiB in all), top-2.
constexpr std::uint32_t k_layers = 4, k_experts = 16, k_top_k = 2, k_hidden = 256, k_ffn = 256;
constexpr std::uint32_t k_total = k_layers * k_experts;

struct Options {
  std::string slimcached;
  std::string scenario = "kills";
  int iterations = 4;
  int nodes = 3;
  std::uint64_t seed = 0;
  bool strict = false;  // an epoch regression fails the run instead of being worked around
  bool fast_restart = false;  // restart at once, before the survivors reaped the victim
  bool keep = false;
};

struct Counts {
  int iterations = 0;
  int kills_fetching = 0;
  int kills_serving = 0;
  int kills_in_transfer = 0;   // a transfer was in flight or queued when the victim died
  int kills_in_epoch = 0;      // the victim's epoch was not settled when it died
  int kills_aimed = 0;         // kills that waited for a transfer in flight
  int kills_chained = 0;       // second kills during the recovery from the first
  int digest_mismatches = 0;   // convergences where the nodes' inputs digests differed
  int epochs_forced = 0;
  std::uint64_t experts_verified = 0;  // offline, full SHA-256
  std::uint64_t disk_bytes_verified = 0;
  std::uint64_t served_reads = 0;
  std::uint64_t served_bytes = 0;
  std::uint64_t fetches_completed = 0;  // by restarted nodes, until they converged
  std::uint64_t fetches_resumed = 0;
  std::uint64_t fetches_failed = 0;
  int corruptions = 0;
  int quarantined = 0;
  int epoch_regressions = 0;  // see Harness::converge
  double converge_max_s = 0;
};

class Harness {
 public:
  explicit Harness(Options o) : m_o(std::move(o)), m_rng(m_o.seed) {}

  bool setup() {
    cli::LocalClusterOptions c;
    c.nodes = m_o.nodes;
    c.slimcached = m_o.slimcached;
    c.keep = m_o.keep;
    const std::uint64_t expert_file = 3ull * k_hidden * k_ffn * 2 + 4096;
    c.origin_disk_budget = 2ull * k_total * expert_file;
    c.disk_budget = k_total * expert_file / 3;
    c.memory_budget = 6 * expert_file;
    c.placement_toml = "latency_expert_bytes = \"12MB\"\n";
    // Slow enough (16 MB/s per node) that a random kill often lands inside a transfer.
    c.extra_toml = "[transfer]\nrate_limit = \"16MB\"\n";
    std::string error;
    auto cluster = cli::LocalCluster::create(c, error);
    if (!cluster) return fail("LocalCluster: " + error);
    m_cluster.emplace(std::move(*cluster));
    // Fast failure detection and reaping (a drop-in every node's config reads).
    fs::create_directories(m_cluster->dir / "config.d");
    std::ofstream(m_cluster->dir / "config.d" / "50-transfer-crash.toml")
        << "[gossip]\nprobe_interval = \"500ms\"\nprobe_timeout = \"200ms\"\nsuspicion_multiplier = 3\n"
        << "suspicion_max_timeout_multiplier = 2\ndead_node_grace = \"1s\"\n";
    {  // every node is a seed: a node restarted after it was reaped joins through the others
      std::ofstream dropin(m_cluster->dir / "config.d" / "50-transfer-crash.toml", std::ios::app);
      dropin << "[cluster]\nseeds = [";
      for (std::size_t n = 0; n < m_cluster->nodes.size(); ++n)
        dropin << (n ? ", " : "") << "\"127.0.0.1:" << m_cluster->nodes[n].gossip_port << "\"";
      dropin << "]\n";
    }
    const auto ckpt = m_cluster->dir / "checkpoint";
    model::write_checkpoint(ckpt, {model::Family::k_qwen3_moe, k_layers, k_experts, k_top_k, k_hidden, k_ffn, 1,
                                   slimcache::config::DType::k_bf16});
    auto plan = model::plan_import({ckpt.string(), "", 0});
    if (!plan) return fail("plan_import: " + plan.error());
    auto report = model::run_import(
        *plan,
        [this](std::uint32_t l, std::uint32_t e, std::span<const std::byte> payload) -> slimcache::Expected<void, std::string> {
          m_expected[{l, e}] = cache::sha256_of(payload);
          return {};
        },
        [](std::uint32_t, std::uint32_t) {});
    if (!report) return fail("run_import: " + report.error());
    if (m_o.scenario == "disk-full" && !mount_small_state_dir()) return false;
    if (!m_cluster->start_all() || !cli::wait_members(*m_cluster, static_cast<std::size_t>(m_o.nodes), 60s))
      return fail("the cluster did not form");
    std::string err;
    if (!m_cluster->call(0, "import", {{"model_dir", ckpt.string()}}, 120s, &err)) return fail("import: " + err);
    for (std::size_t i = 0; i < k_engines; ++i)
      if (!record_workload(i)) return false;
    if (m_o.scenario == "disk-full") return true;
    auto t = Clock::now();
    if (!converge()) return false;
    std::printf("cluster of %d settled %.1f s after the workloads\n", m_o.nodes,
                std::chrono::duration<double>(Clock::now() - t).count());
    t = Clock::now();  // one undisturbed shift: how long the work takes (the kill window)
    std::uint64_t before = 0;
    for (const auto& [name, p] : obs::observe(*m_cluster)) before = std::max(before, p.epoch);
    if (!shift_workload(m_cluster->nodes.size()) || !converge(before + 1)) return false;
    m_settle_us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
    collect_transfer_counts();
    std::printf("an undisturbed workload shift settled in %.1f s: kills land within 1.5 x that\n", m_settle_us / 1e6);
    std::fflush(stdout);
    return true;
  }

  ~Harness() { unmount(); }

  // Nodes 1 and 2 run inference engines: their router decisions are the placement's
  // statistics. The statistics live in the daemon's engine segment, so an engine node that
  // restarts gets the same (seeded) workload again, as a reconnecting engine would record it.
  static constexpr std::size_t k_engines = 2;
  std::array<std::uint64_t, k_engines> m_workload_seed{20, 21};
  std::uint64_t m_next_workload = 0;
  bool record_workload(std::size_t i) {
    std::optional<nlohmann::json> status;
    if (!m_cluster->wait_for(
            [&] { return (status = m_cluster->call(i, "status", {}, 1s)) && (*status)["cache"].contains("shm_name"); }, 30s))
      return fail(m_cluster->nodes[i].name + " never learnt the model");
    auto recorded = cli::record_trace((*status)["cache"]["shm_name"].get<std::string>(),
                                      cli::synthetic_trace(k_layers, k_experts, k_top_k, 400, m_workload_seed[i]));
    if (!recorded) return fail("record_trace: " + recorded.error());
    return true;
  }

  // ------------------------------------------------------------ disk full during a transfer
  static constexpr std::uint64_t k_small_fs = 1536 << 10;  // room for 3 experts; node2 plans ~21

  bool mount_small_state_dir() {
    const auto dir = m_cluster->nodes[1].state_dir;
    std::error_code ec;
    fs::create_directories(dir, ec);
    const std::string opts = "size=" + std::to_string(k_small_fs / 1024) + "k,mode=0700";
    if (::mount("tmpfs", dir.c_str(), "tmpfs", 0, opts.c_str()) != 0) return fail("cannot mount a tmpfs on " + dir.string());
    m_mounted = dir;
    return true;
  }

  void unmount() {
    if (m_mounted.empty() || !m_cluster) return;
    m_cluster->kill(1, SIGTERM);
    if (::umount2(m_mounted.c_str(), MNT_DETACH) != 0) std::cerr << "transfer_crash: cannot unmount " << m_mounted << "\n";
    m_mounted.clear();
  }

  // Bytes in regular files under `dir` (missing = 0).
  static std::uint64_t bytes_under(const fs::path& dir) {
    std::uint64_t total = 0;
    std::error_code ec;
    if (!fs::exists(dir, ec)) return 0;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec))
      if (it->is_regular_file(ec)) total += it->file_size(ec);
    return total;
  }

  int run_disk_full() {
    if (!setup()) {
      std::printf("disk full during a transfer: FAIL (setup)\n");
      return 2;
    }
    const auto& n2 = m_cluster->nodes[1];
    bool ok = true;
    // 1. node2 fetches until its file system is full: failures with the cause, logged.
    std::string reason;
    const bool failed = m_cluster->wait_for(
        [&] {
          std::ifstream log(n2.log);
          for (std::string line; std::getline(log, line);)
            if (line.find("fetch of") != std::string::npos && line.find("failed") != std::string::npos &&
                (line.find("No space") != std::string::npos || line.find("disk full") != std::string::npos ||
                 line.find("space") != std::string::npos)) {
              reason = line;
              return true;
            }
          return false;
        },
        120s);
    if (!failed) {
      ok = fail("node2 never logged a fetch failing for lack of space (log " + n2.log.string() + ")");
    } else {
      std::printf("ok: a fetch failed with the cause logged: %s\n", reason.c_str());
    }
    // 2. It keeps running and answering; the failures are counted.
    auto t = m_cluster->call(1, "transfers", {}, 5s);
    if (!m_cluster->running(1) || !t) ok = fail("node2 is not running or not answering after the disk filled up");
    else std::printf("ok: node2 runs and answers: %llu fetches completed, %llu failed\n",
                     static_cast<unsigned long long>((*t).value("completed", 0ull)),
                     static_cast<unsigned long long>((*t).value("failed", 0ull)));
    // 3. Partial blobs: sampled for 2 s while node2 keeps retrying (a sample may catch a
    // fetch in progress); after convergence none may be left.
    const auto staging = n2.state_dir / "transfer-staging";
    const auto tier_tmp = n2.state_dir / "experts" / "tmp";
    std::uint64_t worst_partial = 0;
    int samples_with_partial = 0;
    for (int i = 0; i < 20; ++i) {  // 20 samples, 100 ms apart
      const auto p = bytes_under(staging / "partial") + bytes_under(tier_tmp);
      worst_partial = std::max(worst_partial, p);
      samples_with_partial += p > 0;
      std::this_thread::sleep_for(100ms);
    }
    std::printf("partial bytes left in transfer-staging/partial and experts/tmp: %d of 20 samples non-empty, at most "
                "%llu bytes; file system %llu of %llu bytes used\n",
                samples_with_partial, static_cast<unsigned long long>(worst_partial),
                static_cast<unsigned long long>(bytes_under(n2.state_dir)), static_cast<unsigned long long>(k_small_fs));
    // Known issue (reported; agent/transfer): the client keeps the partial of a fetch that
    // failed on ENOSPC, for a resume, as it does after a timeout, so the file system stays
    // full until space is freed. Fails the run with --strict.
    if (samples_with_partial == 20) {
      std::printf("KNOWN ISSUE: the partial blob of the fetch that failed for lack of space was kept (%llu bytes)\n",
                  static_cast<unsigned long long>(worst_partial));
      if (m_o.strict) ok = fail("a partial blob stayed behind after the disk filled up (--strict)");
    } else {
      std::printf("ok: no partial blob stays behind after a fetch failed for lack of space\n");
    }
    // 4. It serves what it holds.
    if (!verify_served(1, true)) ok = false;
    else std::printf("ok: node2 serves every expert it holds (%llu reads verified through the C API)\n",
                     static_cast<unsigned long long>(m_counts.served_reads));
    // 5. Space comes back: the cluster converges without a restart.
    if (::mount("tmpfs", m_mounted.c_str(), "tmpfs", MS_REMOUNT, "size=65536k,mode=0700") != 0) {
      ok = fail("cannot grow the tmpfs");
    } else {
      const auto t0 = Clock::now();
      if (converge()) {
        std::printf("ok: after the file system grew the cluster converged in %.1f s, same node2 process\n",
                    std::chrono::duration<double>(Clock::now() - t0).count());
        if (!verify_served(1, true)) ok = false;
        const auto leftover = bytes_under(staging / "partial") + bytes_under(tier_tmp);
        if (leftover != 0) ok = fail("after convergence " + std::to_string(leftover) + " partial bytes are left");
      } else {
        ok = false;
      }
    }
    if (!m_cluster->running(1)) ok = fail("node2 exited");
    std::printf("disk full during a transfer: %llu served reads verified (%llu bytes), %d corruptions: %s\n",
                static_cast<unsigned long long>(m_counts.served_reads),
                static_cast<unsigned long long>(m_counts.served_bytes), m_counts.corruptions, ok ? "PASS" : "FAIL");
    if (!ok) {
      m_cluster->keep = true;
      std::cerr << "transfer_crash: logs kept in " << m_cluster->dir << " (node2's state was on a tmpfs)\n";
    }
    return ok ? 0 : 1;
  }

  int run() {
    bool ok = setup();
    if (!ok) {
      report(false);
      return 2;
    }
    for (int i = 0; i < m_o.iterations && ok; ++i) {
      ++m_counts.iterations;
      ok = iteration(i);
      if (ok && (i + 1) % 25 == 0) {
        std::printf("... %d iterations, %d corruptions so far\n", i + 1, m_counts.corruptions);
        std::fflush(stdout);
      }
      if (!ok) std::cerr << "transfer_crash: iteration " << i << " failed (seed " << m_o.seed << ")\n";
    }
    if (ok) {  // final: every node's whole holding verifies and reads back
      for (std::size_t n = 0; n < m_cluster->nodes.size() && ok; ++n) ok = verify_served(n, true);
    }
    report(ok);
    if (!ok && m_cluster) {
      m_cluster->keep = true;
      std::cerr << "transfer_crash: logs kept in " << m_cluster->dir << "\n";
    }
    return ok ? 0 : 1;
  }

 private:
  bool iteration(int i) {
    const bool serving = i % 2 == 1;
    const std::size_t victim =
        serving ? 0 : std::uniform_int_distribution<std::size_t>(1, m_cluster->nodes.size() - 1)(m_rng);
    const auto started = Clock::now();
    if (!shift_workload(victim)) return false;
    // The kill: half of the time after a random delay up to 1.5 x an undisturbed shift's
    // settle time; the other half at the first moment a transfer is seen in flight (polled,
    // up to 3 x the settle time; then at once), so that many kills land inside transfers.
    const auto limit_us = std::max<std::int64_t>(50'000, m_settle_us * 3 / 2);
    if (std::uniform_int_distribution<int>(0, 1)(m_rng) == 0) {
      const auto delay = std::chrono::microseconds(std::uniform_int_distribution<std::int64_t>(0, limit_us)(m_rng));
      std::this_thread::sleep_until(started + delay);
    } else {
      ++m_counts.kills_aimed;
      const auto until = started + std::chrono::microseconds(2 * limit_us);
      while (Clock::now() < until && !transfer_in_flight(victim, serving)) std::this_thread::sleep_for(5ms);
    }
    if (!kill_and_restart(victim, serving)) return false;
    // Half of the time a second kill lands in the recovery the restart started (a
    // membership epoch and the fetches it brings): a random node, at the first transfer
    // seen in flight (polled up to 5 s) or after a random delay up to 2 s.
    std::size_t last = victim;
    if (std::uniform_int_distribution<int>(0, 1)(m_rng) == 1) {
      ++m_counts.kills_chained;
      const std::size_t second = std::uniform_int_distribution<std::size_t>(0, m_cluster->nodes.size() - 1)(m_rng);
      const bool second_serving = second == 0;
      const auto t0 = Clock::now();
      if (std::uniform_int_distribution<int>(0, 1)(m_rng) == 0) {
        std::this_thread::sleep_until(t0 + std::chrono::milliseconds(std::uniform_int_distribution<int>(0, 2000)(m_rng)));
      } else {
        ++m_counts.kills_aimed;
        while (Clock::now() < t0 + 5s && !transfer_in_flight(second, second_serving)) std::this_thread::sleep_for(5ms);
      }
      if (!kill_and_restart(second, second_serving)) return false;
      last = second;
    }
    const auto t = Clock::now();
    if (!converge()) return false;
    m_counts.converge_max_s = std::max(m_counts.converge_max_s, std::chrono::duration<double>(Clock::now() - t).count());
    collect_transfer_counts();
    return verify_served(victim, false) && (last == victim || verify_served(last, false));
  }

  // SIGKILL, offline disk verification, (reap,) restart, served-bytes check.
  bool kill_and_restart(std::size_t victim, bool serving) {
    note_activity_before_kill(victim, serving);
    m_cluster->kill(victim, SIGKILL);
    ++(serving ? m_counts.kills_serving : m_counts.kills_fetching);
    if (!verify_disk(victim)) return false;
    if (!m_o.fast_restart && !wait_reaped(victim)) return false;
    if (!restart(victim)) return false;
    return verify_served(victim, false);
  }

  // Work for the kill to land in: an engine node's workload shifts (a new seeded trace on
  // top of the old one) and an epoch is forced on a node other than `avoid`, so experts move.
  bool shift_workload(std::size_t avoid) {
    std::vector<std::size_t> engines;
    for (std::size_t e = 0; e < k_engines; ++e)
      if (e != avoid) engines.push_back(e);
    const std::size_t engine = engines[std::uniform_int_distribution<std::size_t>(0, engines.size() - 1)(m_rng)];
    m_workload_seed[engine] = 100 + (m_next_workload++);
    if (!record_workload(engine)) return false;
    std::size_t n = avoid;
    while (n == avoid) n = std::uniform_int_distribution<std::size_t>(0, m_cluster->nodes.size() - 1)(m_rng);
    if (m_cluster->call(n, "placement.epoch", {}, 5s)) ++m_counts.epochs_forced;
    return true;
  }

  // Until no other running node lists `victim` any more (declared dead, then reaped after
  // gossip.dead_node_grace). See the file comment for why restarts wait for this.
  bool wait_reaped(std::size_t victim) {
    const auto& name = m_cluster->nodes[victim].name;
    const bool reaped = m_cluster->wait_for(
        [&] {
          for (std::size_t n = 0; n < m_cluster->nodes.size(); ++n) {
            if (n == victim) continue;
            auto r = m_cluster->call(n, "members", {}, 1s);
            if (!r) return false;
            for (const auto& m : (*r)["members"])
              if (m["name"] == name) return false;
          }
          return true;
        },
        60s);
    return reaped || fail("the survivors did not reap " + name + " within 60 s");
  }

  // A fetch of the victim (fetching node) or of its peers (serving origin) is running or queued.
  bool transfer_in_flight(std::size_t victim, bool serving) const {
    bool transferring = false;
    for (std::size_t n = 0; n < m_cluster->nodes.size() && !transferring; ++n) {
      if (serving ? n == victim : n != victim) continue;
      if (auto t = m_cluster->call(n, "transfers", {}, 1s))
        transferring = (*t).value("in_flight", 0) + (*t).value("queued", 0) + (*t).value("waiting_experts", 0) > 0;
    }
    return transferring;
  }

  void note_activity_before_kill(std::size_t victim, bool serving) {
    m_counts.kills_in_transfer += transfer_in_flight(victim, serving);
    if (auto p = m_cluster->call(victim, "placement", {{"node", m_cluster->nodes[victim].name}}, 1s))
      m_counts.kills_in_epoch += !(*p).value("settled", true);
  }

  bool restart(std::size_t n) {
    if (!m_cluster->start(n)) return fail("fork failed");
    if (!m_cluster->wait_for([&] { return m_cluster->call(n, "status", {}, 1s).has_value(); }, 30s))
      return fail(m_cluster->nodes[n].name + " did not answer status within 30 s after a restart");
    return n >= k_engines || record_workload(n);
  }

  // The daemon is down: open its disk tier as it would on start, but with full SHA-256.
  bool verify_disk(std::size_t n) {
    const auto root = (m_cluster->nodes[n].state_dir / "experts").string();
    if (!fs::exists(root)) return true;  // nothing stored yet
    auto tier = cache::DiskTier::open(slimcache::platform::PosixEnv::instance(),
                                      {root, 1ull << 40, cache::VerifyMode::k_full});
    if (!tier) return fail(m_cluster->nodes[n].name + ": the disk tier does not open: " + tier.error().message);
    bool ok = true;
    for (const auto& q : (*tier)->open_report().quarantined) {
      ++m_counts.quarantined;
      ok = fail(m_cluster->nodes[n].name + ": quarantined after a SIGKILL: " + q.file + ": " + q.reason);
    }
    for (const auto& b : (*tier)->inventory()) {
      const auto it = m_expected.find({b.key.layer, b.key.expert});
      if (it == m_expected.end() || it->second != b.sha256) {
        ++m_counts.corruptions;
        ok = fail(m_cluster->nodes[n].name + ": blob " + b.key.to_string() + " has a SHA-256 the origin never had");
        continue;
      }
      ++m_counts.experts_verified;
      m_counts.disk_bytes_verified += b.payload_size;
    }
    return ok;
  }

  // Pins experts the node holds and reads them through the C API.
  bool verify_served(std::size_t n, bool all) {
    const auto& name = m_cluster->nodes[n].name;
    auto ls = m_cluster->call(n, "cache.ls", {}, 10s);
    if (!ls) return true;  // no model adopted yet: nothing can be served
    bool ok = true;
    std::vector<std::pair<std::uint32_t, std::uint32_t>> present;
    for (const auto& x : (*ls)["experts"]) {
      const std::pair<std::uint32_t, std::uint32_t> key{x["layer"].get<std::uint32_t>(), x["expert"].get<std::uint32_t>()};
      const auto it = m_expected.find(key);
      if (it == m_expected.end() || x["sha256"].get<std::string>() != cache::to_hex(it->second)) {
        ++m_counts.corruptions;
        ok = fail(name + " lists a wrong expert: " + x.dump());
        continue;
      }
      present.push_back(key);
    }
    for (const auto& q : (*ls)["quarantined"]) {
      ++m_counts.quarantined;
      ok = fail(name + " quarantined " + q.dump());
    }
    if (present.empty()) return ok;
    auto status = m_cluster->call(n, "status", {}, 5s);
    if (!status || !(*status)["cache"].contains("shm_name")) return fail(name + ": status has no engine segment");
    slimcache_client* client = nullptr;
    char err[256] = {};
    if (slimcache_open((*status)["cache"]["shm_name"].get<std::string>().c_str(), &client, err, sizeof err) != SLIMCACHE_OK)
      return fail(name + ": slimcache_open: " + err);
    std::shuffle(present.begin(), present.end(), m_rng);
    if (!all && present.size() > 4) present.resize(4);
    for (const auto& [l, e] : present) {
      std::string why;
      // An expert listed a moment ago may have been dropped by a new epoch since: skip it.
      if (!m_cluster->call(n, "cache.pin", {{"layer", l}, {"expert", e}}, 10s, &why)) continue;
      slimcache_expert x{};
      const int rc = slimcache_pin(client, l, e, &x);
      if (rc != SLIMCACHE_OK) {
        ok = fail(name + ": slimcache_pin " + std::to_string(l) + "/" + std::to_string(e) + ": " +
                  slimcache_status_string(rc));
      } else {
        const auto digest = cache::sha256_of({static_cast<const std::byte*>(x.data), static_cast<std::size_t>(x.size)});
        if (digest != m_expected[{l, e}]) {
          ++m_counts.corruptions;
          ok = fail(name + " served wrong bytes for " + std::to_string(l) + "/" + std::to_string(e));
        } else {
          ++m_counts.served_reads;
          m_counts.served_bytes += x.size;
        }
        slimcache_unpin(client, &x);
      }
      (void)m_cluster->call(n, "cache.unpin", {{"layer", l}, {"expert", e}}, 5s);
    }
    slimcache_close(client);
    return ok;
  }

  // Every node settled on one epoch and digest, holds what it plans, every expert held.
  //
  // Known issue (reported; agent/placement): only the node that starts an epoch publishes
  // it, so a node restarted after it started the newest epoch comes back following an
  // older one that another node published, while the others stay at the newest: every node
  // is settled, on two epochs, for good. Counted as an epoch regression; unless --strict,
  // it is worked around as an operator would (placement.epoch on a node at the newest
  // epoch) and convergence is then required as usual.
  bool converge(std::uint64_t min_epoch = 1) {
    std::map<std::string, obs::NodePlacement> view;
    // One epoch, all settled, plans held, every expert held. The inputs digests are compared
    // separately: nodes that snapshot statistics at different moments of an epoch can
    // disagree on it (seen: 1 in 64 iterations) and stay so until the next epoch; that is
    // counted and reported, not a failure of the cache.
    auto converged = [&] {
      view = obs::observe(*m_cluster);
      if (view.size() != m_cluster->nodes.size() || !obs::unheld(view, k_total).empty()) return false;
      for (const auto& [name, p] : view)
        if (!p.settled || p.epoch < min_epoch || p.epoch != view.begin()->second.epoch ||
            !std::includes(p.held.begin(), p.held.end(), p.planned.begin(), p.planned.end()))
          return false;
      return true;
    };
    auto note_digests = [&] {
      for (const auto& [name, p] : view)
        if (p.digest != view.begin()->second.digest) {
          ++m_counts.digest_mismatches;
          return;
        }
    };
    auto split_epochs = [&] {  // everyone answered and settled, but not on one epoch
      view = obs::observe(*m_cluster);
      if (view.size() != m_cluster->nodes.size()) return false;
      std::set<std::uint64_t> epochs;
      for (const auto& [name, p] : view) {
        if (!p.settled) return false;
        epochs.insert(p.epoch);
      }
      return epochs.size() > 1;
    };
    bool settled = false;
    std::optional<Clock::time_point> split_since;
    m_cluster->wait_for(
        [&] {
          if ((settled = converged())) return true;
          if (!split_epochs()) {
            split_since.reset();
            return false;
          }
          if (!split_since) split_since = Clock::now();
          return Clock::now() - *split_since >= 10s;  // split and settled for 10 s: stuck
        },
        120s);
    if (!settled && split_since && Clock::now() - *split_since >= 10s) {
      ++m_counts.epoch_regressions;
      std::string detail;
      std::size_t newest = 0;
      std::uint64_t newest_epoch = 0;
      for (std::size_t n = 0; n < m_cluster->nodes.size(); ++n) {
        const auto it = view.find(m_cluster->nodes[n].name);
        if (it == view.end()) continue;
        detail += " " + it->first + " at epoch " + std::to_string(it->second.epoch) + ";";
        if (it->second.epoch > newest_epoch) newest_epoch = it->second.epoch, newest = n;
      }
      std::cerr << "transfer_crash: epoch regression after a restart (nodes settled on different epochs):" << detail
                << (m_o.strict ? "" : " forcing an epoch on " + m_cluster->nodes[newest].name) << "\n";
      if (m_o.strict) return fail("epoch regression (--strict)");
      (void)m_cluster->call(newest, "placement.epoch", {}, 5s);
      m_cluster->wait_for(converged, 120s);
      settled = converged();
    }
    if (settled) {
      note_digests();
      return true;
    }
    std::string detail;
    for (const auto& [name, p] : view)
      detail += " " + name + ": epoch " + std::to_string(p.epoch) + " digest " + p.digest +
                (p.settled ? " settled" : " unsettled") + ", plans " +
                std::to_string(p.planned.size()) + ", holds " + std::to_string(p.held.size()) + ";";
    return fail("the cluster did not converge within 120 s (" + std::to_string(view.size()) + " answered," +
                std::to_string(obs::unheld(view, k_total).size()) + " experts unheld):" + detail);
  }

  // Fetch counters of every node since its last start (read after convergence; the
  // counters restart with the process, so each node's figures are added when it restarts).
  void collect_transfer_counts() {
    for (std::size_t n = 0; n < m_cluster->nodes.size(); ++n) {
      auto t = m_cluster->call(n, "transfers", {}, 2s);
      if (!t) continue;
      auto& last = m_last_transfers[n];
      const std::uint64_t completed = (*t).value("completed", 0ull), resumed = (*t).value("resumed", 0ull),
                          failed = (*t).value("failed", 0ull);
      // A restarted node's counters start again below the last figures.
      if (completed < last[0] || resumed < last[1] || failed < last[2]) last = {0, 0, 0};
      m_counts.fetches_completed += completed - last[0];
      m_counts.fetches_resumed += resumed - last[1];
      m_counts.fetches_failed += failed - last[2];
      last = {completed, resumed, failed};
    }
  }

  void report(bool ok) {
    const auto& c = m_counts;
    std::printf(
        "transfer crash consistency (seed %llu, %d nodes): %d iterations, %d kills at random moments (%d of a fetching "
        "node, %d of the serving origin; %d during the recovery from another; %d aimed at a transfer; %d with a "
        "transfer in flight or queued, %d in an unsettled epoch), %d workload "
        "shifts and epochs forced; %llu experts verified on disk (%llu bytes, full SHA-256), "
        "%llu served reads verified through the C API (%llu bytes); %llu fetches completed, %llu resumed from a partial, "
        "%llu failed and retried; slowest convergence %.1f s; %d epoch regressions (known issue%s); %d convergences with differing inputs "
        "digests; %d corruptions, %d quarantined: %s\n",
        static_cast<unsigned long long>(m_o.seed), m_o.nodes, c.iterations, c.kills_fetching + c.kills_serving,
        c.kills_fetching, c.kills_serving, c.kills_chained, c.kills_aimed, c.kills_in_transfer, c.kills_in_epoch, c.epochs_forced,
        static_cast<unsigned long long>(c.experts_verified), static_cast<unsigned long long>(c.disk_bytes_verified),
        static_cast<unsigned long long>(c.served_reads), static_cast<unsigned long long>(c.served_bytes),
        static_cast<unsigned long long>(c.fetches_completed), static_cast<unsigned long long>(c.fetches_resumed),
        static_cast<unsigned long long>(c.fetches_failed), c.converge_max_s, c.epoch_regressions,
        c.epoch_regressions > 0 && !m_o.strict ? ", worked around by forcing an epoch" : "", c.digest_mismatches,
        c.corruptions, c.quarantined,
        ok ? "PASS" : "FAIL");
    std::fflush(stdout);
  }

  bool fail(const std::string& message) {
    std::cerr << "transfer_crash: " << message << "\n";
    return false;
  }

  Options m_o;
  std::mt19937_64 m_rng;
  std::optional<cli::LocalCluster> m_cluster;
  std::map<std::pair<std::uint32_t, std::uint32_t>, cache::Sha256> m_expected;
  std::map<std::size_t, std::array<std::uint64_t, 3>> m_last_transfers;
  std::int64_t m_settle_us = 1'000'000;
  fs::path m_mounted;
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
    else if (a == "--nodes" && i + 1 < argc) o.nodes = std::atoi(argv[++i]);
    else if (a == "--scenario" && i + 1 < argc) o.scenario = argv[++i];
    else if (a == "--seed" && i + 1 < argc) o.seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--keep") o.keep = true;
    else if (a == "--strict") o.strict = true;
    else if (a == "--fast-restart") o.fast_restart = true;
    else {
      std::fprintf(stderr, "usage: transfer_crash --slimcached PATH [--scenario kills|disk-full] [--iterations N] [--seed S] "
                           "[--nodes N] [--strict] [--fast-restart] [--keep]\n");
      return 2;
    }
  }
  if (o.slimcached.empty() || o.iterations < 0 || o.nodes < 2 || o.nodes > 8 ||
      (o.scenario != "kills" && o.scenario != "disk-full")) {
    std::fprintf(stderr, "transfer_crash: --slimcached is required; --nodes between 2 and 8\n");
    return 2;
  }
  if (o.scenario == "disk-full") {
    if (::geteuid() != 0) {
      std::printf("SKIP: the disk-full scenario mounts a tmpfs (root only)\n");
      return 77;
    }
    o.nodes = 2;
    Harness h(o);
    return h.run_disk_full();
  }
  std::printf("transfer crash consistency: seed %llu, %d iterations, %d nodes\n", static_cast<unsigned long long>(o.seed),
              o.iterations, o.nodes);
  std::fflush(stdout);
  Harness h(o);
  return h.run();
}
