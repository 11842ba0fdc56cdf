#include "agent/daemon/placement_service.hpp"

#include <xxhash.h>

#include <algorithm>
#include <numeric>

#include "agent/cache/disk_tier.hpp"
#include "agent/engine/activation_stats.hpp"
#include "solver/evaluator.hpp"

namespace slimcache::agent {

namespace {

using platform::LogLevel;
using namespace std::chrono_literals;
namespace pl = placement;

constexpr auto k_tick = 250ms;
constexpr auto k_stats_interval = 1s;
constexpr std::size_t k_gossip_sets_per_layer = 64;
constexpr std::uint64_t k_fetch_headroom = 2;  // experts of disk budget kept free for make-before-break

std::uint64_t hash_of(std::string_view s) { return XXH3_64bits(s.data(), s.size()); }

std::string host_of(const std::string& address) {
  if (!address.empty() && address.front() == '[') return address.substr(1, address.find(']') - 1);
  return address.substr(0, address.rfind(':'));
}

bool contains(const std::vector<std::uint32_t>& sorted, std::uint32_t g) {
  return std::binary_search(sorted.begin(), sorted.end(), g);
}

// Holders rank: the origin first, then by name. Of the holders no one plans an expert on,
// the first in this order keeps it.
bool ranks_before(const pl::MemberView& a, const pl::MemberView& b) {
  const bool ao = a.holdings && a.holdings->origin, bo = b.holdings && b.holdings->origin;
  if (ao != bo) return ao;
  return a.name < b.name;
}

}  // namespace

PlacementService::PlacementService(asio::io_context& io, const config::DaemonConfig& config, platform::Logger& log,
                                   metrics::Registry& metrics, CacheService& cache, GossipService& gossip)
    : m_io(io),
      m_config(config),
      m_log(log),
      m_metrics(metrics),
      m_cache(cache),
      m_gossip(gossip),
      m_coordinator(coordinator_options(config)),
      m_timer(io) {}

PlacementService::~PlacementService() { stop(); }

pl::CoordinatorOptions PlacementService::coordinator_options(const config::DaemonConfig& config) const {
  pl::CoordinatorOptions o;
  o.self = config.node.name;
  o.algorithm = solver::find_algorithm(config.placement.algorithm).value_or(solver::Algorithm::sgd_fast);
  o.epsilon = config.placement.epsilon;
  o.min_interval = config.placement.min_epoch_interval;
  o.drift_threshold = config.placement.drift_threshold;
  o.publish_timeout = config.placement.publish_timeout;
  o.migration_weight = config.placement.migration_weight;
  o.hysteresis = config.placement.hysteresis;
  o.latency.rtt_s = config.placement.link_rtt_ms / 1000.0;
  o.latency.bandwidth_bytes_per_s = static_cast<double>(config.placement.link_bandwidth);
  o.latency.compute_bytes_per_s = static_cast<double>(config.placement.compute_rate);
  o.latency.fallback_bytes_per_s = static_cast<double>(config.placement.fallback_rate);
  o.latency.expert_bytes = config.placement.latency_expert_bytes;
  return o;
}

void PlacementService::start(Fetcher fetcher, Ports ports) {
  m_fetcher = std::move(fetcher);
  m_ports = ports;
  m_metrics.counter_callback("slimcache_placement_epochs_total", "Placement epochs this node took part in",
                             [this] { return static_cast<double>(m_coordinator.epochs_started()); });
  m_metrics.gauge_callback("slimcache_placement_epoch", "Current placement epoch",
                           [this] { return static_cast<double>(m_coordinator.epoch()); });
  m_metrics.gauge_callback("slimcache_placement_drift",
                           "Drift of the clients' statistics since the last epoch (total variation)",
                           [this] { return m_coordinator.last_drift(); });
  m_metrics.counter_callback("slimcache_placement_timeouts_total",
                             "Epochs in which a predecessor's placement did not arrive in time",
                             [this] { return static_cast<double>(m_coordinator.timeouts()); });
  m_metrics.counter_callback("slimcache_placement_fetched_total", "Experts fetched from peers for the placement",
                             [this] { return static_cast<double>(m_fetched); });
  m_metrics.counter_callback("slimcache_placement_fetch_failures_total", "Expert fetches that failed",
                             [this] { return static_cast<double>(m_fetch_failures); });
  m_metrics.counter_callback("slimcache_placement_dropped_total",
                             "Experts dropped after another node held them (make-before-break)",
                             [this] { return static_cast<double>(m_dropped); });
  m_metrics.histogram("slimcache_placement_solve_seconds", "Time of this node's placement step",
                      {0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5});
  arm_tick();
}

void PlacementService::stop() {
  if (m_stopped) return;
  m_stopped = true;
  *m_alive = false;
  m_timer.cancel();
  if (m_solver.joinable()) m_solver.join();
}

void PlacementService::reconfigure(const config::DaemonConfig& config) {
  m_coordinator.set_options(coordinator_options(config));
}

void PlacementService::arm_tick() {
  m_timer.expires_after(k_tick);
  m_timer.async_wait([this, alive = m_alive](const asio::error_code& ec) {
    if (ec || !*alive) return;
    tick();
    arm_tick();
  });
}

void PlacementService::publish_value(std::string_view key, const std::string& value) {
  m_own[std::string(key)] = value;
  m_gossip.publish(std::string(key), value);
}

void PlacementService::maybe_adopt_model() {
  if (const auto m = m_cache.manifest()) {
    const auto text = model::manifest_to_json(*m);
    if (m_own["model"] != text) publish_value("model", text);
    return;
  }
  for (const auto& member : m_gossip.live_members()) {
    if (member.name == m_gossip.node_name()) continue;
    const auto value = m_gossip.peer_value(member.name, "model");
    if (!value) continue;
    auto manifest = model::manifest_from_json(*value);
    if (!manifest) continue;
    if (auto ok = m_cache.adopt_manifest(*manifest); !ok) {
      SLIM_LOG(m_log, LogLevel::k_warning) << "cannot adopt model " << manifest->model << " from " << member.name << ": "
                                           << ok.error();
      return;
    }
    SLIM_LOG(m_log, LogLevel::k_notice) << "adopted model " << manifest->model << " from " << member.name;
    return;
  }
}

void PlacementService::publish_stats() {
  const auto now = std::chrono::steady_clock::now();
  if (now - m_stats_at < k_stats_interval) return;
  m_stats_at = now;
  const double rate = m_cache.decayed_tokens();
  if (rate <= 0.0) return;
  auto stats = m_cache.statistics();
  const double drift = engine::ActivationStats::drift(m_stats_published, stats);
  const bool rate_moved = rate > 2.0 * m_rate_published || rate < 0.5 * m_rate_published;
  if (!m_stats_published.empty() && drift <= m_config.placement.drift_threshold / 2 && !rate_moved) return;
  publish_value(pl::k_key_stats, pl::encode(pl::ClientStatsValue{rate, stats}, k_gossip_sets_per_layer));
  m_stats_published = std::move(stats);
  m_rate_published = rate;
}

void PlacementService::publish_holdings() {
  const auto m = m_cache.manifest();
  if (!m) return;
  m_held = m_cache.held_experts();
  std::sort(m_held.begin(), m_held.end());
  const auto& roles = m_config.node.roles;
  if (std::find(roles.begin(), roles.end(), "server") == roles.end()) return;
  const pl::ModelShape shape{m->layers, m->experts, m->top_k};
  auto value = pl::encode(pl::HoldingsValue{m_held, m_cache.is_origin(), m_ports.transfer, m_ports.execution}, shape);
  if (value == m_holdings_value) return;
  m_holdings_value = value;
  publish_value(pl::k_key_holdings, value);
}

std::optional<pl::ClusterView> PlacementService::build_view() {
  const auto manifest = m_cache.manifest();
  if (!manifest) return std::nullopt;
  pl::ClusterView view;
  view.shape = {manifest->layers, manifest->experts, manifest->top_k};
  view.expert_bytes = manifest->expert_bytes + cache::k_blob_header_size;  // what a copy takes on disk
  view.hidden = manifest->hidden;
  const auto& self = m_gossip.node_name();
  std::set<std::string> live;
  auto members = m_gossip.live_members();
  if (std::none_of(members.begin(), members.end(), [&](const auto& m) { return m.name == self; }))
    members.push_back({self, m_gossip.address(), 0, gossip::MemberState::alive, {}});
  m_hosts.clear();
  for (const auto& member : members) {
    live.insert(member.name);
    m_hosts[member.name] = host_of(member.address);
    auto& d = m_decoded[member.name];
    d.view.name = member.name;
    auto value_of = [&](std::string_view key) -> std::optional<std::string> {
      if (member.name == self) {
        const auto it = m_own.find(std::string(key));
        return it == m_own.end() ? std::nullopt : std::optional<std::string>(it->second);
      }
      return m_gossip.peer_value(member.name, std::string(key));
    };
    // Re-decodes one value when its bytes changed; returns the raw value's hash.
    auto refresh = [&](std::string_view key, auto&& decode) {
      const auto value = value_of(key);
      const std::uint64_t h = value ? hash_of(*value) : 0;
      auto& seen = d.hashes[std::string(key)];
      if (seen == h && h != 0) return;
      seen = h;
      decode(value);
    };
    refresh("model", [&](const std::optional<std::string>& v) {
      auto m = v ? model::manifest_from_json(*v) : Unexpected(std::string("none"));
      d.same_model = m && m->model == manifest->model && m->layers == manifest->layers &&
                             m->experts == manifest->experts && m->expert_bytes == manifest->expert_bytes;
    });
    refresh("budgets", [&](const std::optional<std::string>& v) {
      d.view.disk_budget = 0;
      if (!v) return;
      const auto j = nlohmann::json::parse(*v, nullptr, false);
      if (j.is_object() && j.contains("disk_bytes") && j["disk_bytes"].is_number_unsigned())
        d.view.disk_budget = j["disk_bytes"].get<std::uint64_t>();
    });
    refresh(pl::k_key_stats, [&](const std::optional<std::string>& v) {
      d.view.stats.reset();
      d.view.stats_hash = v ? hash_of(*v) : 0;
      if (!v) return;
      if (auto s = pl::decode_stats(*v, view.shape)) d.view.stats = std::move(s).value();
    });
    refresh(pl::k_key_epoch, [&](const std::optional<std::string>& v) {
      d.view.epoch.reset();
      if (v)
        if (auto e = pl::decode_epoch(*v)) d.view.epoch = std::move(e).value();
    });
    refresh(pl::k_key_placement, [&](const std::optional<std::string>& v) {
      d.view.placement.reset();
      if (v)
        if (auto p = pl::decode_placement(*v, view.shape)) d.view.placement = std::move(p).value();
    });
    refresh(pl::k_key_holdings, [&](const std::optional<std::string>& v) {
      d.view.holdings.reset();
      if (v)
        if (auto h = pl::decode_holdings(*v, view.shape)) d.view.holdings = std::move(h).value();
    });
    if (member.name == self) d.view.disk_budget = m_config.budgets.disk;
    // Make-before-break needs room to fetch before dropping: place within the budget less
    // k_fetch_headroom experts (the same rule on every node, so the digest agrees).
    const auto headroom = k_fetch_headroom * view.expert_bytes;
    const auto budget = d.view.disk_budget > headroom ? d.view.disk_budget - headroom : 0;
    const bool same_model = member.name == self || d.same_model;
    if (!same_model) continue;  // another model: not part of this placement
    d.view.server = d.view.holdings.has_value() && d.view.disk_budget > 0;
    auto mv = d.view;
    mv.disk_budget = budget;
    mv.server = mv.server && budget > 0;
    view.members.push_back(std::move(mv));
  }
  for (auto it = m_decoded.begin(); it != m_decoded.end();) it = live.count(it->first) ? std::next(it) : m_decoded.erase(it);
  return view;
}

void PlacementService::tick() {
  maybe_adopt_model();
  if (!m_cache.manifest()) return;
  publish_stats();
  publish_holdings();
  auto view = build_view();
  if (!view) return;
  const auto before = m_coordinator.epoch();
  auto actions = m_coordinator.tick(std::chrono::steady_clock::now(), *view);
  if (actions.publish_epoch) publish_value(pl::k_key_epoch, pl::encode(*actions.publish_epoch));
  if (m_coordinator.epoch() != before) {
    SLIM_LOG(m_log, LogLevel::k_notice) << "placement epoch " << m_coordinator.epoch() << " ("
                                        << m_coordinator.cause() << (actions.publish_epoch ? ", started here" : "")
                                        << ")";
  }
  if (actions.solve) launch(std::move(*actions.solve));
  move_experts(*view);
  update_directory(*view);
  m_last_view = std::move(view);
}

void PlacementService::launch(pl::NodeStepTask task) {
  if (m_solver.joinable()) m_solver.join();  // the coordinator hands out one task at a time
  m_solver = std::thread([this, task = std::move(task), alive = m_alive] {
    auto result = pl::run_node_step(task);
    asio::post(m_io, [this, alive, result = std::move(result)] {
      if (*alive) on_solved(result);
    });
  });
}

void PlacementService::on_solved(const pl::NodeStepResult& result) {
  m_last_solve_ms = result.solve_ms;
  m_metrics.histogram("slimcache_placement_solve_seconds", "Time of this node's placement step", {})
      .observe(result.solve_ms / 1000.0);
  if (!result.error.empty())
    SLIM_LOG(m_log, LogLevel::k_warning) << "placement epoch " << result.epoch << ": " << result.error;
  const auto value = m_coordinator.solved(result);
  if (!value) return;
  publish_value(pl::k_key_placement, pl::encode(*value));
  SLIM_LOG(m_log, LogLevel::k_info) << "placement epoch " << value->epoch << ": " << value->experts.size()
                                    << " experts here" << (result.kept_previous ? " (kept: hysteresis)" : "")
                                    << ", gain " << value->gain_s * 1e3 << " ms/token, solved in " << result.solve_ms
                                    << " ms, digest " << value->digest;
}

void PlacementService::move_experts(const pl::ClusterView& view) {
  const auto& plan = m_coordinator.published();
  const auto* self = view.find(m_gossip.node_name());
  if (!plan || self == nullptr || !m_fetcher) return;
  const auto experts = view.shape.experts;
  // The origin keeps (and, after a loss, re-fetches) the whole model it imported: it seeds
  // every copy and is the holder of last resort; its budget bounds what it places.
  const bool origin = self->holdings && self->holdings->origin;
  std::vector<std::uint32_t> wanted = plan->experts;
  if (origin) {
    wanted.resize(view.shape.total());
    std::iota(wanted.begin(), wanted.end(), 0u);
  }
  m_wanted = wanted;
  for (const auto g : wanted) {
    if (contains(m_held, g) || m_fetching.count(g) != 0) continue;
    std::vector<const pl::MemberView*> holders;
    for (const auto& m : view.members)
      if (&m != self && m.holdings && m.holdings->transfer_port != 0 && contains(m.holdings->experts, g))
        holders.push_back(&m);
    if (holders.empty()) continue;
    // Others before the origin; among them an order that differs per (fetcher, expert).
    const auto salt = hash_of(m_gossip.node_name()) ^ g;
    std::sort(holders.begin(), holders.end(), [&](const pl::MemberView* a, const pl::MemberView* b) {
      if (a->holdings->origin != b->holdings->origin) return b->holdings->origin;
      return (hash_of(a->name) ^ salt) < (hash_of(b->name) ^ salt);
    });
    std::vector<PeerEndpoint> endpoints;
    for (const auto* h : holders) {
      const auto host = m_hosts.find(h->name);
      if (host != m_hosts.end() && !host->second.empty())
        endpoints.push_back({h->name, host->second, h->holdings->transfer_port});
    }
    if (endpoints.empty()) continue;
    m_fetching.insert(g);
    m_fetcher(g / experts, g % experts, std::move(endpoints), [this, g, alive = m_alive](Expected<void, std::string> r) {
      if (!*alive) return;
      m_fetching.erase(g);
      if (r) {
        ++m_fetched;
        return;
      }
      ++m_fetch_failures;
      SLIM_LOG(m_log, LogLevel::k_warning) << "fetch of expert " << g << " failed: " << r.error();
    });
  }
  // Make-before-break: drop what we no longer plan only where another holder stays.
  // An expert that a server places in this epoch is dropped once one of its planners holds
  // it; one that nobody places, once a holder ranking before this node (the origin) has it.
  for (const auto g : std::vector<std::uint32_t>(m_held)) {
    if (contains(wanted, g)) continue;
    bool planned = false, covered = false;
    for (const auto& m : view.members)
      planned = planned || (&m != self && m.server && m.placement && m.placement->epoch == m_coordinator.epoch() &&
                            contains(m.placement->experts, g));
    for (const auto& m : view.members) {
      if (&m == self || !m.holdings || !contains(m.holdings->experts, g)) continue;
      const bool plans = m.placement && m.placement->epoch == m_coordinator.epoch() && contains(m.placement->experts, g);
      if (plans || (!planned && ranks_before(m, *self))) covered = true;
    }
    if (!covered) continue;
    if (auto ok = m_cache.drop_expert(g / experts, g % experts); !ok) continue;  // e.g. pinned: next tick
    ++m_dropped;
    m_held.erase(std::find(m_held.begin(), m_held.end(), g));
  }
}

void PlacementService::update_directory(const pl::ClusterView& view) {
  std::string key;
  for (const auto g : m_held) key += std::to_string(g) + ",";
  for (const auto& m : view.members)
    if (m.holdings) key += m.name + ":" + std::to_string(m.holdings->execution_port) + ":" + std::to_string(
        m_decoded[m.name].hashes[std::string(pl::k_key_holdings)]) + ";";
  const auto h = hash_of(key);
  if (h == m_directory_hash) return;
  m_directory_hash = h;
  std::vector<engine::NodeAddress> nodes;
  std::vector<const pl::MemberView*> holders_of;
  for (const auto& m : view.members) {
    if (!m.holdings || m.name == m_gossip.node_name() || nodes.size() >= engine::layout::k_max_nodes) continue;
    nodes.push_back({m.name, m_hosts[m.name] + ":" + std::to_string(m.holdings->execution_port)});
    holders_of.push_back(&m);
  }
  std::vector<engine::HolderInfo> entries(view.shape.total());
  for (std::uint32_t g = 0; g < entries.size(); ++g) {
    auto& e = entries[g];
    for (std::uint16_t i = 0; i < holders_of.size() && e.holders.size() < engine::layout::k_max_holders; ++i)
      if (contains(holders_of[i]->holdings->experts, g)) e.holders.push_back(i);
    e.location = contains(m_held, g) ? engine::layout::k_local_disk
                 : e.holders.empty() ? engine::layout::k_nowhere
                                     : engine::layout::k_peer;
  }
  m_cache.publish_directory(nodes, entries);
}

nlohmann::json PlacementService::status() const {
  const auto& plan = m_coordinator.published();
  return {{"epoch", m_coordinator.epoch()},
          {"phase", pl::to_string(m_coordinator.phase())},
          {"digest", m_coordinator.digest()},
          {"planned", plan ? plan->experts.size() : 0},
          {"held", m_held.size()},
          {"fetching", m_fetching.size()}};
}

nlohmann::json PlacementService::placement_json(const nlohmann::json& args) {
  const auto& plan = m_coordinator.published();
  nlohmann::json out{{"node", m_gossip.node_name()},
                     {"algorithm", m_config.placement.algorithm},
                     {"epoch", m_coordinator.epoch()},
                     {"phase", pl::to_string(m_coordinator.phase())},
                     {"cause", m_coordinator.cause()},
                     {"digest", m_coordinator.digest()},
                     {"order", m_coordinator.order()},
                     {"last_solve_ms", m_last_solve_ms},
                     {"drift", m_coordinator.last_drift()},
                     {"fetching", m_fetching.size()},
                     {"fetched", m_fetched},
                     {"fetch_failures", m_fetch_failures},
                     {"dropped", m_dropped},
                     // settled: everything wanted is held, nothing else, nothing in flight
                     {"settled", plan && m_fetching.empty() && m_held == m_wanted}};
  out["nodes"] = nlohmann::json::array();
  if (!m_last_view) return out;
  const auto& view = *m_last_view;
  const std::string only = args.value("node", std::string());
  for (const auto& m : view.members) {
    nlohmann::json n{{"name", m.name},
                     {"server", m.server},
                     {"origin", m.holdings && m.holdings->origin},
                     {"budget_bytes", m.disk_budget},
                     {"client", m.stats.has_value()},
                     {"held", m.holdings ? m.holdings->experts.size() : 0}};
    if (m.placement) {
      n["placement_epoch"] = m.placement->epoch;
      n["planned"] = m.placement->experts.size();
      n["digest"] = m.placement->digest;
      n["agrees"] = m.placement->digest == m_coordinator.digest();
      n["gain_s"] = m.placement->gain_s;
      n["solve_ms"] = m.placement->solve_ms;
    }
    if (!only.empty() && m.name == only) {
      n["experts"] = m.placement ? m.placement->experts : std::vector<std::uint32_t>{};
      n["holds"] = m.holdings ? m.holdings->experts : std::vector<std::uint32_t>{};
    }
    out["nodes"].push_back(std::move(n));
  }
  // The prediction for the placement in force (every server's published placement).
  const auto order = pl::server_order(view);
  const auto options = coordinator_options(m_config);
  auto problem = pl::build_view_problem(view, order, options.latency);
  if (!problem) {
    out["prediction_error"] = problem.error();
    return out;
  }
  solver::Placement x(order.size(), view.shape.total());
  for (std::size_t n = 0; n < order.size(); ++n)
    if (const auto* m = view.find(order[n]); m->placement)
      for (const auto g : m->placement->experts) x.set(n, g, true);
  solver::Evaluator eval(*problem);
  eval.reset(x);
  out["predicted_latency_s"] = eval.latency();
  out["empty_latency_s"] = eval.empty_latency();
  if (args.value("baselines", false)) {  // centralised solves of the same instance, for comparison
    nlohmann::json list = nlohmann::json::array();
    for (const auto a : {solver::Algorithm::sgd_fast, solver::Algorithm::greedy_marginal,
                         solver::Algorithm::popularity_distinct, solver::Algorithm::layer_uniform,
                         solver::Algorithm::popularity, solver::Algorithm::random}) {
      const auto t0 = std::chrono::steady_clock::now();
      auto r = solver::solve(*problem, a);
      if (!r) continue;
      list.push_back({{"algorithm", std::string(solver::algorithm_name(a))},
                      {"latency_s", r->latency_s},
                      {"reduction_s", r->reduction_s},
                      {"solve_ms", std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count()}});
    }
    out["baselines"] = std::move(list);
  }
  if (args.contains("expert") && args["expert"].is_array() && args["expert"].size() == 2) {
    const auto layer = args["expert"][0].get<std::uint32_t>(), e = args["expert"][1].get<std::uint32_t>();
    if (layer >= view.shape.layers || e >= view.shape.experts) {
      out["expert_error"] = "no such expert: layer " + std::to_string(layer) + ", expert " + std::to_string(e);
      return out;
    }
    const std::uint32_t g = layer * view.shape.experts + e;
    nlohmann::json ej{{"layer", layer}, {"expert", e}, {"id", g}, {"nodes", nlohmann::json::array()}};
    for (std::size_t n = 0; n < order.size(); ++n) {
      const auto* m = view.find(order[n]);
      const bool planned = x.has(n, g);
      ej["nodes"].push_back({{"name", order[n]},
                             {"planned", planned},
                             {"holds", m->holdings && contains(m->holdings->experts, g)},
                             // what this copy saves per token (planned), or would save if added
                             {"gain_s", planned ? eval.loss_if_removed(n, g) : eval.gain_if_added(n, g)}});
    }
    double p = 0.0;
    for (const auto& mv : view.members)
      if (mv.stats && mv.stats->layers.size() > layer && mv.stats->layers[layer].marginals.size() > e)
        p = std::max(p, mv.stats->layers[layer].marginals[e]);
    ej["max_activation_probability"] = p;
    out["expert"] = std::move(ej);
  }
  return out;
}

void PlacementService::register_commands(admin::AdminServer& admin) {
  using admin::ErrorCode;
  admin.add_command("placement", [this](const admin::Request& request, const admin::PeerCredentials&, admin::Reply reply) {
    if (!m_cache.manifest()) return reply.fail(ErrorCode::k_failed, "no model on this node yet (import one: slimctl import)");
    auto out = placement_json(request.args.is_object() ? request.args : nlohmann::json::object());
    if (out.contains("expert_error")) return reply.fail(ErrorCode::k_bad_arguments, out["expert_error"].get<std::string>());
    reply.result(out);
  });
  admin.add_command("placement.epoch", [this](const admin::Request&, const admin::PeerCredentials&, admin::Reply reply) {
    if (!m_cache.manifest()) return reply.fail(ErrorCode::k_failed, "no model on this node yet");
    m_coordinator.force_epoch("operator");
    reply.result({{"requested", true}, {"epoch", m_coordinator.epoch()}});
  });
}

}  // namespace slimcache::agent
