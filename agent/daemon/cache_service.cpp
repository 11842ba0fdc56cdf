#include "agent/metrics/cache_metrics.hpp"
#include "agent/daemon/cache_service.hpp"

#include <xxhash.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "agent/cache/disk_tier.hpp"
#include "agent/model/importer.hpp"
#include "platform/posix_env.hpp"

namespace slimcache::agent {

using platform::LogLevel;

namespace {

// "slimcache-<node>-<8 hex digits of the state directory>": two daemons on one machine (two
// local clusters with the same node names, tests run in parallel) never share a segment,
// and a daemon restarted on the same state directory gets the same name. Engines read it
// from `slimctl status` (cache.shm_name).
std::string shm_name_for(const std::string& node, const std::string& state_dir) {
  std::string out = "slimcache-";
  for (char c : node) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  char tag[16];
  std::snprintf(tag, sizeof tag, "-%08x", static_cast<unsigned>(XXH32(state_dir.data(), state_dir.size(), 0)));
  return out + tag;
}

Expected<std::pair<std::uint32_t, std::uint32_t>, std::string> layer_expert(const nlohmann::json& args,
                                                                            const model::ModelManifest& m) {
  if (!args.contains("layer") || !args["layer"].is_number_unsigned() || !args.contains("expert") ||
      !args["expert"].is_number_unsigned())
    return Unexpected(std::string("give \"layer\" and \"expert\" as non-negative integers"));
  const auto layer = args["layer"].get<std::uint32_t>();
  const auto expert = args["expert"].get<std::uint32_t>();
  if (layer >= m.layers) return Unexpected("layer " + std::to_string(layer) + " does not exist (the model has " + std::to_string(m.layers) + ")");
  if (expert >= m.experts) return Unexpected("expert " + std::to_string(expert) + " does not exist (" + std::to_string(m.experts) + " per layer)");
  return std::pair{layer, expert};
}

}  // namespace

CacheService::CacheService(asio::io_context& io, const config::DaemonConfig& config, platform::Logger& log,
                           const platform::Clock& clock, metrics::Registry& metrics)
    : m_io(io),
      m_config(config),
      m_log(log),
      m_clock(clock),
      m_metrics(metrics),
      m_manifest_path((std::filesystem::path(config.node.state_dir) / "model.json").string()),
      m_shm_name(shm_name_for(config.node.name, config.node.state_dir)),
      m_stats_timer(io) {
  // Registered here, not under m_mutex: a scrape takes the registry's lock, then m_mutex.
  m_metrics.gauge_callback("slimcache_cache_disk_experts", "Experts in the disk tier", [this] {
    std::lock_guard l(m_mutex);
    return m_cache ? static_cast<double>(m_cache->inventory().on_disk.size()) : 0.0;
  });
  m_metrics.gauge_callback("slimcache_engine_sets_recorded", "Top-K sets recorded by local engines", [this] {
    std::lock_guard l(m_mutex);
    return m_engine ? static_cast<double>(m_engine->recorded()) : 0.0;
  });
  metrics::export_cache_metrics(m_metrics, [this]() -> std::optional<cache::CacheCounters> {
    std::lock_guard l(m_mutex);
    return m_cache ? std::optional(m_cache->counters()) : std::nullopt;
  });
}

CacheService::~CacheService() { stop(); }

std::string CacheService::origin_marker_path() const {
  return (std::filesystem::path(m_config.node.state_dir) / "origin").string();
}

Expected<void, std::string> CacheService::start() {
  std::error_code ec;
  m_origin = std::filesystem::exists(origin_marker_path(), ec);
  if (!std::filesystem::exists(m_manifest_path, ec)) {
    SLIM_LOG(m_log, LogLevel::k_info) << "no model yet (" << m_manifest_path << "): import one with slimctl import";
    return {};
  }
  auto manifest = model::read_manifest(m_manifest_path);
  if (!manifest) return Unexpected(manifest.error());
  return open_cache(*manifest);
}

Expected<void, std::string> CacheService::open_cache(const model::ModelManifest& manifest) {
  cache::CacheManagerOptions options;
  options.model = manifest.model.substr(0, cache::k_max_model_id);
  options.num_layers = manifest.layers;
  options.num_experts = manifest.experts;
  options.top_k = manifest.top_k;
  options.disk_root = m_config.node.data_dir;
  options.disk_budget_bytes = m_config.budgets.disk;
  if (m_origin) {  // the origin holds the whole model until peers have copies (see the header)
    const std::uint64_t whole = static_cast<std::uint64_t>(manifest.layers) * manifest.experts *
                                (manifest.expert_bytes + cache::k_blob_header_size);
    options.disk_budget_bytes = std::max(options.disk_budget_bytes, whole + (whole / 64));
  }
  options.shm_name = m_shm_name;
  options.memory_budget_bytes = m_config.budgets.memory;
  options.slot_size = manifest.expert_bytes;
  options.policy = m_config.cache.policy;
  auto opened = cache::CacheManager::open(platform::PosixEnv::instance(), m_clock, options);
  if (!opened) return Unexpected("expert cache: " + opened.error().message);
  const auto& report = (*opened)->startup_report();
  SLIM_LOG(m_log, LogLevel::k_notice) << "expert cache open: model " << manifest.model << ", " << report.blobs
                                      << " experts on disk, " << report.quarantined.size() << " quarantined";
  for (const auto& q : report.quarantined) {
    SLIM_LOG(m_log, LogLevel::k_warning) << "quarantined " << q.file << ": " << q.reason;
  }
  auto segment = engine::EngineSegment::create(m_shm_name, {manifest.layers, manifest.experts, 1u << 16, manifest.model});
  if (!segment) return Unexpected(segment.error().message);
  std::lock_guard lock(m_mutex);
  m_cache = std::move(opened).value();
  m_engine.emplace(std::move(segment).value());
  m_stats = std::make_unique<engine::ActivationStats>(manifest.layers, manifest.experts, manifest.top_k,
                                                      engine::ActivationStats::Options{});
  m_ring_cursor = 0;
  m_manifest = manifest;
  // May run on the import worker: the timer belongs to the io_context.
  asio::post(m_io, [this] { arm_stats_timer(); });
  return {};
}

void CacheService::arm_stats_timer() {
  if (m_stopped) return;
  m_stats_timer.expires_after(std::chrono::seconds(1));
  m_stats_timer.async_wait([this](const asio::error_code& ec) {
    if (ec || m_stopped) return;
    fold_statistics();
    arm_stats_timer();
  });
}

void CacheService::fold_statistics() {
  std::lock_guard lock(m_mutex);
  if (!m_engine || !m_stats) return;
  const double now = std::chrono::duration<double>(m_clock.now().time_since_epoch()).count();
  m_stats->fold_counters(m_engine->counters(), now);
  m_sets_lost += m_engine->read_sets(&m_ring_cursor, [this](std::uint32_t layer, std::span<const std::uint16_t> ids) {
    m_stats->add_set(layer, ids);
  });
}

void CacheService::stop() {
  if (m_stopped) return;
  m_stopped = true;
  m_stats_timer.cancel();
  if (m_import_thread.joinable()) m_import_thread.join();
  std::lock_guard lock(m_mutex);
  if (m_engine) engine::EngineSegment::remove(m_shm_name);
  m_engine.reset();
  m_cache.reset();
}

std::vector<std::uint32_t> CacheService::held_experts() const {
  std::lock_guard lock(m_mutex);
  std::vector<std::uint32_t> out;
  if (!m_cache || !m_manifest) return out;
  const std::string model = m_manifest->model.substr(0, cache::k_max_model_id);
  m_cache->for_each_on_disk([&](const cache::BlobInfo& b) {
    if (b.key.model != model || b.key.layer >= m_manifest->layers || b.key.expert >= m_manifest->experts) return;
    out.push_back(b.key.layer * m_manifest->experts + b.key.expert);
  });
  std::sort(out.begin(), out.end());
  return out;
}

Expected<void, std::string> CacheService::drop_expert(std::uint32_t layer, std::uint32_t expert) {
  std::lock_guard lock(m_mutex);
  if (!m_cache || !m_manifest) return Unexpected(std::string("no model on this node"));
  if (layer >= m_manifest->layers || expert >= m_manifest->experts)
    return Unexpected("expert " + std::to_string(layer) + "/" + std::to_string(expert) + " is outside the model");
  const auto inv = m_cache->inventory();
  const bool held = std::any_of(inv.on_disk.begin(), inv.on_disk.end(),
                                [&](const cache::BlobInfo& b) { return b.key.layer == layer && b.key.expert == expert; });
  if (!held) return Unexpected("expert " + std::to_string(layer) + "/" + std::to_string(expert) + " is not held here");
  for (const auto& r : inv.resident) {
    if (r.layer == layer && r.expert == expert && r.pins > 0)
      return Unexpected("expert " + std::to_string(layer) + "/" + std::to_string(expert) + " is pinned by " +
                        std::to_string(r.pins) + " reader(s): not dropped");
  }
  if (auto removed = m_cache->remove(layer, expert); !removed) {
    return Unexpected("expert " + std::to_string(layer) + "/" + std::to_string(expert) + ": " + removed.error().message +
                      (removed.error().code == cache::CacheErrc::k_pinned ? " (not dropped)" : ""));
  }
  SLIM_LOG(m_log, LogLevel::k_info) << "dropped expert " << layer << "/" << expert;
  return {};
}

void CacheService::publish_directory(const std::vector<engine::NodeAddress>& nodes,
                                     const std::vector<engine::HolderInfo>& entries) {
  std::lock_guard lock(m_mutex);
  if (m_engine) m_engine->publish_holders(nodes, entries);
}

Expected<void, std::string> CacheService::adopt_manifest(const model::ModelManifest& manifest) {
  if (const auto current = this->manifest()) {
    if (*current == manifest) return {};
    const std::string why = "a peer announces model '" + manifest.model + "' but this node serves '" + current->model +
                            "': not adopted";
    SLIM_LOG(m_log, LogLevel::k_error) << why;
    return Unexpected(why);
  }
  if (m_importing) return Unexpected(std::string("an import is running: not adopting a peer's model"));
  if (manifest.layers == 0 || manifest.experts == 0 || manifest.expert_bytes == 0 || manifest.model.empty())
    return Unexpected("the peer's model manifest is incomplete ('" + manifest.model + "')");
  std::error_code ec;
  std::filesystem::create_directories(m_config.node.state_dir, ec);
  if (auto written = model::write_manifest(m_manifest_path, manifest); !written) return Unexpected(written.error());
  if (auto opened = open_cache(manifest); !opened) {
    std::filesystem::remove(m_manifest_path, ec);
    return opened;
  }
  SLIM_LOG(m_log, LogLevel::k_notice) << "adopted model " << manifest.model << " from a peer (" << manifest.layers
                                      << " layers x " << manifest.experts << " experts): ready to receive transfers";
  return {};
}

bool CacheService::is_origin() const { return m_origin.load(); }

std::string CacheService::cache_model_id() const {
  std::lock_guard lock(m_mutex);
  return m_manifest ? m_manifest->model.substr(0, cache::k_max_model_id) : std::string();
}

std::optional<cache::BlobInfo> CacheService::find_blob(const cache::ExpertKey& key) const {
  std::lock_guard lock(m_mutex);
  if (!m_cache) return std::nullopt;
  return m_cache->find_on_disk(key);  // O(log n): the transfer server asks on every request
}

std::optional<cache::BlobInfo> CacheService::find_by_sha256(const cache::Sha256& digest) const {
  std::lock_guard lock(m_mutex);
  if (!m_cache) return std::nullopt;
  return m_cache->find_on_disk_by_sha256(digest);
}

std::optional<cache::BlobInfo> CacheService::find_expert(std::uint32_t layer, std::uint32_t expert) const {
  const std::string model = cache_model_id();
  if (model.empty()) return std::nullopt;
  return find_blob(cache::ExpertKey{model, layer, expert});
}

Expected<std::vector<std::byte>, cache::CacheError> CacheService::read_blob(const cache::ExpertKey& key) const {
  using cache::CacheErrc;
  using cache::CacheError;
  const auto info = find_blob(key);
  if (!info) return Unexpected(CacheError{CacheErrc::k_not_found, key.to_string() + " is not on disk"});
  // Blob files are immutable once renamed into blobs/; a concurrent remove unlinks the name
  // but an open descriptor keeps reading the same bytes.
  const int fd = ::open(info->path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Unexpected(CacheError{CacheErrc::k_io, info->path + ": " + std::strerror(errno)});
  std::vector<std::byte> payload(static_cast<std::size_t>(info->payload_size));
  std::size_t done = 0;
  // Bounded: every pread advances `done` or ends the loop.
  while (done < payload.size()) {
    const ssize_t n = ::pread(fd, payload.data() + done, payload.size() - done,
                              static_cast<off_t>(cache::k_blob_header_size + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const std::string why = n < 0 ? std::strerror(errno) : "file shorter than its header says";
      ::close(fd);
      return Unexpected(CacheError{CacheErrc::k_io, info->path + ": " + why});
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
  return payload;
}

Expected<void, cache::CacheError> CacheService::store_fetched(const cache::ExpertKey& key,
                                                              std::span<const std::byte> payload) {
  using cache::CacheErrc;
  using cache::CacheError;
  std::lock_guard lock(m_mutex);
  if (!m_cache || !m_manifest) return Unexpected(CacheError{CacheErrc::k_invalid_argument, "no model on this node"});
  if (key.model != m_manifest->model.substr(0, cache::k_max_model_id) || key.layer >= m_manifest->layers ||
      key.expert >= m_manifest->experts)
    return Unexpected(CacheError{CacheErrc::k_invalid_argument, key.to_string() + " is not an expert of this node's model"});
  const auto existing = m_cache->find_on_disk(key);
  const std::uint64_t replaced = existing ? existing->file_size() : 0;
  const std::uint64_t after = m_cache->disk_used_bytes() - replaced + cache::k_blob_header_size + payload.size();
  // The origin is the home of experts no node places (PlacementService re-fetches them):
  // it may fill up to the whole model, as after its import.
  const std::uint64_t limit = m_origin ? m_cache->disk_budget_bytes() : m_config.budgets.disk;
  if (after > limit)
    return Unexpected(CacheError{CacheErrc::k_budget_exceeded,
                                 key.to_string() + " needs " + std::to_string(after) + " bytes on disk, over " +
                                     (m_origin ? "the origin's limit " : "budgets.disk ") + std::to_string(limit)});
  SLIM_TRY_VOID(m_cache->store(key.layer, key.expert, payload));
  m_cache->note_peer_fetch(payload.size());
  return {};
}

std::optional<model::ModelManifest> CacheService::manifest() const {
  std::lock_guard lock(m_mutex);
  return m_manifest;
}

std::vector<solver::LayerStats> CacheService::statistics() const {
  std::lock_guard lock(m_mutex);
  return m_stats ? m_stats->snapshot() : std::vector<solver::LayerStats>{};
}

double CacheService::decayed_tokens() const {
  std::lock_guard lock(m_mutex);
  return m_stats ? m_stats->tokens(0) : 0.0;
}

nlohmann::json CacheService::status() const {
  std::lock_guard lock(m_mutex);
  if (!m_manifest) return {{"model", nullptr}, {"importing", m_importing.load()}};
  const auto inv = m_cache->inventory();
  return {{"model", m_manifest->model},
          {"shm_name", m_shm_name},
          {"layers", m_manifest->layers},
          {"experts", m_manifest->experts},
          {"top_k", m_manifest->top_k},
          {"disk_experts", inv.on_disk.size()},
          {"disk_used_bytes", inv.disk_used_bytes},
          {"disk_budget_bytes", inv.disk_budget_bytes},
          {"memory_resident", inv.resident.size()},
          {"memory_slots", inv.memory_slots},
          {"engine_sets_recorded", m_engine->recorded()},
          {"engine_sets_lost", m_sets_lost},
          {"importing", m_importing.load()}};
}

void CacheService::register_commands(admin::AdminServer& admin) {
  using admin::ErrorCode;
  admin.add_command("model", [this](const admin::Request&, const admin::PeerCredentials&, admin::Reply reply) {
    const auto m = manifest();
    if (!m) return reply.result({{"model", nullptr}});
    reply.result(nlohmann::json::parse(model::manifest_to_json(*m)));
  });
  admin.add_command("cache.ls", [this](const admin::Request&, const admin::PeerCredentials&, admin::Reply reply) {
    std::lock_guard lock(m_mutex);
    if (!m_cache) return reply.fail(ErrorCode::k_failed, "no model on this node yet: import one with slimctl import");
    const auto inv = m_cache->inventory();
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint32_t> pins;
    for (const auto& r : inv.resident) pins[{r.layer, r.expert}] = r.pins + 1;
    nlohmann::json experts = nlohmann::json::array();
    for (const auto& b : inv.on_disk) {
      const auto it = pins.find({b.key.layer, b.key.expert});
      experts.push_back({{"layer", b.key.layer},
                         {"expert", b.key.expert},
                         {"bytes", b.payload_size},
                         {"sha256", cache::to_hex(b.sha256)},
                         {"resident", it != pins.end()},
                         {"pins", it != pins.end() ? it->second - 1 : 0}});
    }
    nlohmann::json quarantined = nlohmann::json::array();
    for (const auto& q : inv.quarantined) quarantined.push_back({{"file", q.file}, {"reason", q.reason}});
    reply.result({{"model", m_manifest->model},
                  {"experts", experts},
                  {"disk_used_bytes", inv.disk_used_bytes},
                  {"disk_budget_bytes", inv.disk_budget_bytes},
                  {"memory_slots", inv.memory_slots},
                  {"memory_free_slots", inv.memory_free_slots},
                  {"quarantined", quarantined}});
  });
  auto single = [this](const char* what) {
    return [this, what](const admin::Request& request, const admin::PeerCredentials&, admin::Reply reply) {
      std::lock_guard lock(m_mutex);
      if (!m_cache) return reply.fail(ErrorCode::k_failed, "no model on this node yet: import one with slimctl import");
      auto key = layer_expert(request.args, *m_manifest);
      if (!key) return reply.fail(ErrorCode::k_bad_arguments, key.error());
      const auto [layer, expert] = *key;
      const std::string op = what;
      if (op == "pin") {
        const std::uint32_t e[] = {expert};
        auto loaded = m_cache->request(layer, e);
        if (!loaded) return reply.fail(ErrorCode::k_failed, loaded.error().message);
        m_cache->pin(layer, expert);
      } else if (op == "unpin") {
        m_cache->unpin(layer, expert);
      } else {
        auto evicted = m_cache->evict(layer, expert);
        if (!evicted) return reply.fail(ErrorCode::k_failed, evicted.error().message);
      }
      reply.result({{"layer", layer}, {"expert", expert}, {"done", op}});
    };
  };
  admin.add_command("cache.pin", single("pin"));
  admin.add_command("cache.unpin", single("unpin"));
  admin.add_command("cache.evict", single("evict"));
  admin.add_command("activation", [this](const admin::Request&, const admin::PeerCredentials&, admin::Reply reply) {
    fold_statistics();
    const auto stats = statistics();
    const auto m = manifest();
    if (!m) return reply.fail(ErrorCode::k_failed, "no model on this node yet");
    nlohmann::json layers = nlohmann::json::array();
    for (const auto& l : stats) layers.push_back({{"marginals", l.marginals}, {"sets", l.sets}, {"weights", l.weights}});
    std::lock_guard lock(m_mutex);
    reply.result({{"model", m->model},
                  {"top_k", m->top_k},
                  {"tokens", m_stats ? m_stats->tokens(0) : 0.0},
                  {"sets_recorded", m_engine ? m_engine->recorded() : 0},
                  {"layers", layers}});
  });
  admin.add_command("import", [this](const admin::Request& request, const admin::PeerCredentials&, admin::Reply reply) {
    handle_import(request, std::move(reply));
  });
}

void CacheService::handle_import(const admin::Request& request, admin::Reply reply) {
  using admin::ErrorCode;
  const auto& args = request.args;
  if (!args.contains("model_dir") || !args["model_dir"].is_string())
    return reply.fail(ErrorCode::k_bad_arguments, "give \"model_dir\"");
  if (m_importing.exchange(true)) return reply.fail(ErrorCode::k_busy, "an import is already running");
  if (m_import_thread.joinable()) m_import_thread.join();
  model::ImportOptions options;
  options.model_dir = args["model_dir"].get<std::string>();
  if (args.contains("model_id") && args["model_id"].is_string()) options.model_id = args["model_id"].get<std::string>();
  if (args.contains("top_k") && args["top_k"].is_number_unsigned()) options.top_k = args["top_k"].get<std::uint32_t>();
  m_import_thread = std::thread([this, options, reply] {
    auto finish = [this, reply](bool ok, nlohmann::json body, std::string error) {
      asio::post(m_io, [this, reply, ok, body = std::move(body), error = std::move(error)] {
        m_importing = false;
        if (ok) {
          reply.result(body);
        } else {
          SLIM_LOG(m_log, LogLevel::k_error) << "import failed: " << error;
          reply.fail(ErrorCode::k_failed, error);
        }
      });
    };
    auto plan = model::plan_import(options);
    if (!plan) return finish(false, {}, plan.error());
    const auto current = manifest();
    if (current && (current->model != plan->manifest.model || current->layers != plan->manifest.layers ||
                    current->experts != plan->manifest.experts || current->expert_bytes != plan->manifest.expert_bytes))
      return finish(false, {}, "this node serves model '" + current->model + "'; it cannot import another model");
    const bool was_origin = m_origin.exchange(true);
    if (!current) {
      if (auto opened = open_cache(plan->manifest); !opened) {
        m_origin = was_origin;
        return finish(false, {}, opened.error());
      }
    }
    // Batches: one directory sync per batch instead of one per expert (DiskTier::put_many).
    auto report = model::run_import_batched(
        *plan,
        [this](std::span<const model::ExpertBlob> batch) -> Expected<void, std::string> {
          std::vector<cache::CacheManager::StoreItem> items;
          items.reserve(batch.size());
          for (const auto& b : batch) items.push_back({b.layer, b.expert, b.payload});
          std::lock_guard lock(m_mutex);
          auto stored = m_cache->store_many(items);
          if (!stored) return Unexpected(stored.error().message);
          return {};
        },
        [this](std::uint32_t l, std::uint32_t e) {
          std::lock_guard lock(m_mutex);
          (void)m_cache->remove(l, e);
        },
        [this, reply](std::uint64_t done, std::uint64_t total) {
          if (done % 16 == 0 || done == total)
            asio::post(m_io, [reply, done, total] { reply.progress({{"done", done}, {"total", total}, {"what", "importing experts"}}); });
        },
        model::ImportBatching{32, 16ull << 20});  // the cache lock is held per batch: keep it short
    if (!report) {
      if (!current) {  // a fresh node goes back to having no model
        std::lock_guard lock(m_mutex);
        m_engine.reset();
        engine::EngineSegment::remove(m_shm_name);
        m_cache.reset();
        m_stats.reset();
        m_manifest.reset();
      }
      m_origin = was_origin;
      return finish(false, {}, report.error());
    }
    if (auto written = model::write_manifest(m_manifest_path, plan->manifest); !written)
      return finish(false, {}, written.error());
    if (std::ofstream marker(origin_marker_path(), std::ios::trunc); !(marker << "imported " << plan->manifest.model << "\n"))
      SLIM_LOG(m_log, LogLevel::k_warning) << "cannot write " << origin_marker_path() << ": this node will not know it is the origin after a restart";
    SLIM_LOG(m_log, LogLevel::k_notice) << "imported " << report->experts << " experts of " << plan->manifest.model;
    finish(true,
           {{"model", plan->manifest.model},
            {"experts", report->experts},
            {"bytes", report->bytes},
            {"layers", plan->manifest.layers},
            {"experts_per_layer", plan->manifest.experts},
            {"top_k", plan->manifest.top_k}},
           {});
  });
}

}  // namespace slimcache::agent
