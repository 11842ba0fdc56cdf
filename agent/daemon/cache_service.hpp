#pragma once
// The daemon's cache subsystem: the model manifest, the expert cache (disk + memory tiers),
// the engine segment local inference engines write their router decisions into, and the
// activation statistics folded from it once a second.
//
// The cache opens at start if <state_dir>/model.json exists, or after an import. Admin
// commands: model, cache.ls, cache.pin, cache.unpin, cache.evict, import (progress frames).
// Threads: everything on the daemon's io_context, except import, which reads and encodes
// on a worker thread; every CacheManager call is made under m_mutex (the cache "strand"),
// so the functions below are safe from any thread (TransferService calls the tier access
// functions from its transfer threads).
//
// Origin: the node that imported the model from files is the origin (a marker file
// <state_dir>/origin, written after a successful import). Until others hold copies it holds
// every expert, so its disk tier opens with max(budgets.disk, the whole model) as the
// tier's hard limit; drop_expert() brings it back under budgets.disk. Blobs received from
// peers (store_fetched) always respect budgets.disk, on the origin too.
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
  // Tokens the local engine reported, decayed like the statistics: its weight as a client.
  [[nodiscard]] double decayed_tokens() const;

  // ---- placement (the lead's PlacementService)
  // Experts of the model on disk (each verified when the tier opened or when stored), as
  // global ids layer * experts + expert, ascending. Empty without a model.
  [[nodiscard]] std::vector<std::uint32_t> held_experts() const;
  // Removes the expert from memory and disk. Fails (nothing changed) without a model, for an
  // id out of range, an expert not held, or one pinned (by the daemon or an engine's read).
  [[nodiscard]] Expected<void, std::string> drop_expert(std::uint32_t layer, std::uint32_t expert);
  // Forwards to EngineSegment::publish_holders when the engine segment exists (else no-op).
  void publish_directory(const std::vector<engine::NodeAddress>& nodes, const std::vector<engine::HolderInfo>& entries);
  // A node without a model learns one from a peer: writes <state_dir>/model.json and opens an
  // EMPTY cache so that it can receive transfers. The same model again is a no-op; another
  // model than the one held is an error (logged, nothing changed).
  [[nodiscard]] Expected<void, std::string> adopt_manifest(const model::ModelManifest& manifest);
  // This node imported the model from files (persisted across restarts).
  [[nodiscard]] bool is_origin() const;

  // ---- disk tier access for transfers (TransferService)
  [[nodiscard]] std::optional<cache::BlobInfo> find_expert(std::uint32_t layer, std::uint32_t expert) const;
  [[nodiscard]] std::optional<cache::BlobInfo> find_blob(const cache::ExpertKey& key) const;
  [[nodiscard]] std::optional<cache::BlobInfo> find_by_sha256(const cache::Sha256& digest) const;
  // The payload of a held expert (read from its blob file; the receiver verifies SHA-256).
  [[nodiscard]] Expected<std::vector<std::byte>, cache::CacheError> read_blob(const cache::ExpertKey& key) const;
  // Stores a verified blob received from a peer: k_budget_exceeded if it would take the disk
  // tier over budgets.disk (the origin's imported surplus counts), k_invalid_argument for a
  // key of another model or out of range. The expert is in the inventory on success.
  [[nodiscard]] Expected<void, cache::CacheError> store_fetched(const cache::ExpertKey& key,
                                                                std::span<const std::byte> payload);
  // The model id the disk tier uses in its keys ("" without a model).
  [[nodiscard]] std::string cache_model_id() const;

 private:
  [[nodiscard]] Expected<void, std::string> open_cache(const model::ModelManifest& manifest);
  [[nodiscard]] std::string origin_marker_path() const;
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
  std::atomic<bool> m_origin{false};
  bool m_stopped = false;
};

}  // namespace slimcache::agent
