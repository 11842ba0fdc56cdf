#pragma once
// The daemon's cache subsystem: the model manifest, the expert cache (disk + memory tiers),
// the engine segment local inference engines write their router decisions into, and the
// activation statistics folded from it once a second.
//
// The cache opens at start if <state_dir>/model.json exists, or after an import. Admin
// commands: model, cache.ls, cache.pin, cache.unpin, cache.evict, import (progress frames).
// Threads: everything on the daemon's io_context, except import, which reads and encodes
// on a worker thread; every CacheManager call is made under m_mutex (the cache "strand").
#include <asio.hpp>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "agent/admin/admin_server.hpp"
#include "agent/cache/cache_manager.hpp"
#include "agent/engine/activation_stats.hpp"
#include "agent/engine/engine_segment.hpp"
#include "agent/metrics/metrics_registry.hpp"
#include "agent/model/model_manifest.hpp"
#include "config/daemon_config.hpp"
#include "platform/clock.hpp"
#include "platform/log.hpp"

namespace slimcache::agent {

class CacheService {
 public:
  CacheService(asio::io_context& io, const config::DaemonConfig& config, platform::Logger& log,
               const platform::Clock& clock, metrics::Registry& metrics);
  ~CacheService();
  CacheService(const CacheService&) = delete;
  CacheService& operator=(const CacheService&) = delete;

  // Opens the cache if a model manifest exists. A corrupt manifest is an error.
  [[nodiscard]] Expected<void, std::string> start();
  void stop();
  void register_commands(admin::AdminServer& admin);

  [[nodiscard]] nlohmann::json status() const;
  // The shared-memory name engines open (slimcache/client.h).
  [[nodiscard]] const std::string& shm_name() const { return m_shm_name; }
  [[nodiscard]] std::optional<model::ModelManifest> manifest() const;
  // Current statistics of the local engine (empty before a model is known).
  [[nodiscard]] std::vector<solver::LayerStats> statistics() const;

 private:
  [[nodiscard]] Expected<void, std::string> open_cache(const model::ModelManifest& manifest);
  void fold_statistics();
  void arm_stats_timer();
  void handle_import(const admin::Request& request, admin::Reply reply);

  asio::io_context& m_io;
  const config::DaemonConfig& m_config;
  platform::Logger& m_log;
  const platform::Clock& m_clock;
  metrics::Registry& m_metrics;
  std::string m_manifest_path;
  std::string m_shm_name;
  mutable std::mutex m_mutex;
  std::optional<model::ModelManifest> m_manifest;
  std::unique_ptr<cache::CacheManager> m_cache;
  std::optional<engine::EngineSegment> m_engine;
  std::unique_ptr<engine::ActivationStats> m_stats;
  std::uint64_t m_ring_cursor = 0;
  std::uint64_t m_sets_lost = 0;
  asio::steady_timer m_stats_timer;
  std::thread m_import_thread;
  std::atomic<bool> m_importing{false};
  bool m_stopped = false;
};

}  // namespace slimcache::agent
