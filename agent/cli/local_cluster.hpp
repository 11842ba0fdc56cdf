#pragma once
// A cluster of slimcached processes on loopback, for `slimctl demo` and the multi-process
// tests: generated configs (one keyring file, mode 0600, shared by all), consecutive free
// ports, one state directory per node under a temporary directory, logs beside them.
// Every wait is bounded. stop() sends SIGTERM (graceful leave), then SIGKILL after 10 s,
// and removes the directory unless `keep`.
// Threads: one owner; the processes are children of the caller.
#include <sys/types.h>
#include <time.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "solver/expected.hpp"
#include "solver/routing_trace.hpp"

namespace slimcache::agent::cli {

struct LocalNode {
  std::string name;
  std::filesystem::path config, socket, state_dir, log;
  std::uint16_t gossip_port = 0, transfer_port = 0, execution_port = 0;
  std::uint64_t disk_budget = 0;
  pid_t pid = -1;
};

struct LocalClusterOptions {
  int nodes = 4;
  int spare_nodes = 0;                 // configured and given ports, started later (start(i))
  std::uint64_t disk_budget = 1 << 20;
  std::uint64_t origin_disk_budget = 0;  // node 0; 0 = disk_budget
  std::uint64_t memory_budget = 512 << 10;
  std::string min_epoch_interval = "1s";
  std::string publish_timeout = "3s";
  std::string algorithm = "sgd-fast";
  std::string gossip_profile = "local";
  std::string placement_toml;          // more [placement] keys ("key = value" lines)
  std::string extra_toml;              // appended to every config (other sections)
  std::string slimcached;              // "" = beside this executable, else on PATH
  bool keep = false;
};

class LocalCluster {
 public:
  // Creates the directory, the keyring and the configs (nothing started).
  [[nodiscard]] static std::optional<LocalCluster> create(LocalClusterOptions options, std::string& error);
  LocalCluster(LocalCluster&&) noexcept;
  LocalCluster& operator=(LocalCluster&&) = delete;
  ~LocalCluster();

  [[nodiscard]] bool start(std::size_t i);  // fork+exec; false if fork failed
  [[nodiscard]] bool start_all();           // the first options.nodes nodes
  void kill(std::size_t i, int signo);      // and reap
  [[nodiscard]] bool running(std::size_t i);
  void stop();

  // One admin call; nullopt on any failure (with the message in *error when given).
  [[nodiscard]] std::optional<nlohmann::json> call(std::size_t i, const std::string& cmd,
                                                   const nlohmann::json& args = nlohmann::json::object(),
                                                   std::chrono::milliseconds timeout = std::chrono::seconds(10),
                                                   std::string* error = nullptr) const;
  // Polls pred every 50 ms until it holds or `limit` passes.
  template <class Pred>
  bool wait_for(Pred pred, std::chrono::milliseconds limit) const;

  std::vector<LocalNode> nodes;
  std::filesystem::path dir;
  bool keep = false;

 private:
  LocalCluster() = default;
  LocalClusterOptions m_options;
  std::string m_binary;
};

// Waits until every running node sees `count` live members.
[[nodiscard]] bool wait_members(const LocalCluster& cluster, std::size_t count, std::chrono::milliseconds limit);

// A seeded synthetic top-K routing workload: per layer a Zipf(1.1) popularity over a
// seeded permutation of the experts; each token draws K distinct experts per layer.
[[nodiscard]] solver::RoutingTrace synthetic_trace(std::uint32_t layers, std::uint32_t experts, std::uint32_t k,
                                                   int tokens, std::uint64_t seed = 7);

// Writes every router decision of the trace into an engine segment (as an inference engine
// would, through the lock-free counters and ring). Returns decisions recorded, or an error.
[[nodiscard]] Expected<std::uint64_t, std::string> record_trace(const std::string& shm_name,
                                                                const solver::RoutingTrace& trace);

[[nodiscard]] std::string find_slimcached(const std::string& given);

template <class Pred>
bool LocalCluster::wait_for(Pred pred, std::chrono::milliseconds limit) const {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    if (pred()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    struct timespec ts{0, 50'000'000};
    ::nanosleep(&ts, nullptr);
  }
}

}  // namespace slimcache::agent::cli
