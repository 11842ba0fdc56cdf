#include "config/daemon_config.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>
#include <nlohmann/json.hpp>
#include <toml++/toml.h>

#include "config/toml_text.hpp"

namespace slimcache::config {

std::string ConfigError::to_string() const {
  std::string out;
  if (!file.empty()) {
    out += file;
    if (line > 0) out += ":" + std::to_string(line) + ":" + std::to_string(column);
    out += ": ";
  }
  if (!key.empty()) out += key + ": ";
  return out + message;
}

// ---------------------------------------------------------------- gossip profiles
namespace {

GossipTiming make_lan() { return GossipTiming{}; }

GossipTiming make_wan() {
  GossipTiming t;
  t.probe_interval = Millis{5000};
  t.probe_timeout = Millis{3000};
  t.gossip_interval = Millis{500};
  t.gossip_fanout = 4;
  t.suspicion_multiplier = 6;
  t.push_pull_interval = Millis{60000};
  t.tcp_timeout = Millis{30000};
  t.dead_node_grace = Millis{60000};
  return t;
}

GossipTiming make_local() {
  GossipTiming t;
  t.probe_interval = Millis{1000};
  t.probe_timeout = Millis{200};
  t.indirect_checks = 1;
  t.gossip_interval = Millis{100};
  t.retransmit_multiplier = 2;
  t.suspicion_multiplier = 3;
  t.push_pull_interval = Millis{15000};
  t.tcp_timeout = Millis{1000};
  t.dead_node_grace = Millis{15000};
  return t;
}

}  // namespace

const GossipTiming* gossip_profile(std::string_view name) {
  static const GossipTiming lan = make_lan();
  static const GossipTiming wan = make_wan();
  static const GossipTiming local = make_local();
  if (name == "lan") return &lan;
  if (name == "wan") return &wan;
  if (name == "local") return &local;
  return nullptr;
}

// ---------------------------------------------------------------- units
Expected<std::uint64_t, std::string> parse_bytes(std::string_view text) {
  const std::string_view hint = "expected a size such as 4GiB, 512MiB, 1.5GB or a number of bytes";
  std::size_t i = 0;
  while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
  if (i == 0) return Unexpected(std::string(hint));
  const std::string number(text.substr(0, i));
  if (std::count(number.begin(), number.end(), '.') > 1) return Unexpected(std::string(hint));
  std::string_view unit = text.substr(i);
  while (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  struct U { std::string_view name; double factor; };
  static constexpr U k_units[] = {
      {"", 1.0}, {"B", 1.0},
      {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
      {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0},
  };
  for (const U& u : k_units) {
    if (u.name != unit) continue;
    const double value = std::strtod(number.c_str(), nullptr) * u.factor;
    if (!std::isfinite(value) || value >= 18446744073709551615.0)
      return Unexpected(std::string("size is too large"));
    if (value != std::floor(value)) return Unexpected(std::string("size is not a whole number of bytes"));
    return static_cast<std::uint64_t>(value);
  }
  return Unexpected("unknown unit \"" + std::string(unit) + "\": " + std::string(hint));
}

Expected<Millis, std::string> parse_duration(std::string_view text) {
  const std::string hint = "expected a duration such as \"500ms\", \"10s\", \"1m30s\", \"2h\" or \"1d\"";
  if (text == "0") return Millis{0};
  if (text.empty()) return Unexpected(hint);
  double total_ms = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t start = i;
    while (i < text.size() && (std::isdigit(static_cast<unsigned char>(text[i])) || text[i] == '.')) ++i;
    if (i == start) return Unexpected(hint);
    const std::string number(text.substr(start, i - start));
    const std::size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    const std::string_view unit = text.substr(unit_start, i - unit_start);
    double factor = 0;
    if (unit == "ms") factor = 1;
    else if (unit == "s") factor = 1e3;
    else if (unit == "m") factor = 60e3;
    else if (unit == "h") factor = 3600e3;
    else if (unit == "d") factor = 86400e3;
    else return Unexpected(unit.empty() ? "missing unit: " + hint : "unknown unit \"" + std::string(unit) + "\": " + hint);
    total_ms += std::strtod(number.c_str(), nullptr) * factor;
  }
  if (!std::isfinite(total_ms) || total_ms > 1e15) return Unexpected(std::string("duration is too long"));
  if (std::fabs(total_ms - std::round(total_ms)) > 1e-6)
    return Unexpected(std::string("duration must be a whole number of milliseconds"));
  return Millis{static_cast<Millis::rep>(std::llround(total_ms))};
}

std::string format_bytes_value(std::uint64_t bytes) {
  static constexpr std::pair<std::uint64_t, const char*> k_units[] = {
      {1ull << 40, "TiB"}, {1'000'000'000'000ull, "TB"}, {1ull << 30, "GiB"}, {1'000'000'000ull, "GB"},
      {1ull << 20, "MiB"}, {1'000'000ull, "MB"},         {1ull << 10, "KiB"}, {1'000ull, "kB"}};
  if (bytes == 0) return "0";
  for (const auto& [factor, name] : k_units)
    if (bytes % factor == 0) return std::to_string(bytes / factor) + name;
  return std::to_string(bytes) + "B";
}

std::string format_duration_value(Millis d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  static constexpr std::pair<std::int64_t, const char*> k_units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1'000, "s"}, {1, "ms"}};
  for (const auto& [factor, name] : k_units) {
    if (ms >= factor) {
      out += std::to_string(ms / factor) + name;
      ms %= factor;
    }
  }
  return out;
}

// ---------------------------------------------------------------- schema
namespace {

#define SLIM_REF(member) [](DaemonConfig& c) -> FieldRef { return &c.member; }
constexpr double k_ms_s = 1000.0;
constexpr double k_ms_min = 60 * k_ms_s;
constexpr double k_ms_h = 60 * k_ms_min;
constexpr double k_ms_d = 24 * k_ms_h;
constexpr double k_gib = 1073741824.0;
constexpr double k_tib = 1024 * k_gib;
constexpr std::string_view k_from_profile = "from gossip.profile";

std::vector<FieldSpec> build_schema() {
  using K = FieldKind;
  using R = Reload;
  std::vector<FieldSpec> s;
  auto add = [&](FieldSpec f) { s.push_back(std::move(f)); };
  // node
  add({"node.name", K::k_name, R::k_restart, 1, 64, {}, "the host name (up to its first dot)",
       "This node's name in the cluster: letters, digits, '.', '_' and '-'.", SLIM_REF(node.name)});
  add({"node.state_dir", K::k_path, R::k_restart, 0, 0, {},
       "$STATE_DIRECTORY, else /var/lib/slimcache as root, else $XDG_STATE_HOME/slimcache",
       "Absolute directory for the daemon's state (index, placements, leases).", SLIM_REF(node.state_dir)});
  add({"node.data_dir", K::k_path, R::k_restart, 0, 0, {}, "<node.state_dir>/experts",
       "Absolute directory of the disk tier (expert blobs).", SLIM_REF(node.data_dir)});
  add({"node.roles", K::k_enum_list, R::k_restart, 1, 2, {"server", "client"}, {},
       "server: caches and serves experts; client: runs inference and reports statistics.",
       SLIM_REF(node.roles)});
  // budgets
  add({"budgets.disk", K::k_bytes, R::k_live, 0, 16 * k_tib, {}, {},
       "Disk tier budget Q_n: expert bytes this node stores. Shrinking it evicts.", SLIM_REF(budgets.disk)});
  add({"budgets.memory", K::k_bytes, R::k_restart, 0, k_tib, {}, {},
       "Memory tier budget M_n: the shared-memory segment size (0 = no memory tier). At most budgets.disk.",
       SLIM_REF(budgets.memory)});
  // network
  add({"network.bind_address", K::k_host, R::k_restart, 0, 0, {}, {},
       "IP address the gossip, transfer and execution sockets bind. Non-loopback needs security.keyring_files.",
       SLIM_REF(network.bind_address)});
  add({"network.advertise_address", K::k_host, R::k_restart, 0, 0, {}, "network.bind_address",
       "IP address announced to peers (set it when binding 0.0.0.0 or behind NAT).",
       SLIM_REF(network.advertise_address)});
  add({"network.gossip_port", K::k_port, R::k_restart, 0, 65535, {}, {},
       "Gossip port, UDP (probes, broadcasts) and TCP (push-pull). 0 = any free port.",
       SLIM_REF(network.gossip_port)});
  add({"network.transfer_port", K::k_port, R::k_restart, 0, 65535, {}, {},
       "TCP port peers fetch expert blobs from. 0 = any free port.", SLIM_REF(network.transfer_port)});
  add({"network.execution_port", K::k_port, R::k_restart, 0, 65535, {}, {},
       "TCP port for remote expert execution requests. 0 = any free port.", SLIM_REF(network.execution_port)});
  // gossip
  add({"gossip.profile", K::k_enum, R::k_restart, 0, 0, {"lan", "wan", "local"}, {},
       "Timing preset (memberlist's DefaultLANConfig, DefaultWANConfig, DefaultLocalConfig); the keys below override it.",
       SLIM_REF(gossip.profile)});
  add({"gossip.probe_interval", K::k_duration, R::k_restart, 100, k_ms_min, {}, k_from_profile,
       "Interval between failure-detection probes of one random member.", SLIM_REF(gossip.timing.probe_interval)});
  add({"gossip.probe_timeout", K::k_duration, R::k_restart, 10, k_ms_min, {}, k_from_profile,
       "Time to wait for a direct probe's ack before indirect probes; less than probe_interval.",
       SLIM_REF(gossip.timing.probe_timeout)});
  add({"gossip.indirect_checks", K::k_integer, R::k_restart, 0, 16, {}, k_from_profile,
       "Members asked to probe indirectly when a direct probe fails.", SLIM_REF(gossip.timing.indirect_checks)});
  add({"gossip.gossip_interval", K::k_duration, R::k_restart, 10, k_ms_min, {}, k_from_profile,
       "Interval between gossip rounds (piggybacked broadcasts).", SLIM_REF(gossip.timing.gossip_interval)});
  add({"gossip.gossip_fanout", K::k_integer, R::k_restart, 1, 64, {}, k_from_profile,
       "Members each gossip round sends to.", SLIM_REF(gossip.timing.gossip_fanout)});
  add({"gossip.retransmit_multiplier", K::k_integer, R::k_restart, 1, 16, {}, k_from_profile,
       "A broadcast is retransmitted retransmit_multiplier * log(N+1) times.",
       SLIM_REF(gossip.timing.retransmit_multiplier)});
  add({"gossip.suspicion_multiplier", K::k_integer, R::k_restart, 1, 32, {}, k_from_profile,
       "Suspicion timeout = suspicion_multiplier * log10(max(1,N)) * probe_interval.",
       SLIM_REF(gossip.timing.suspicion_multiplier)});
  add({"gossip.suspicion_max_timeout_multiplier", K::k_integer, R::k_restart, 1, 64, {}, k_from_profile,
       "Upper bound of the suspicion timeout with no confirmations, as a multiple of the minimum (Lifeguard).",
       SLIM_REF(gossip.timing.suspicion_max_timeout_multiplier)});
  add({"gossip.awareness_max_multiplier", K::k_integer, R::k_restart, 1, 64, {}, k_from_profile,
       "Largest factor local health awareness may stretch this node's probe timeouts by (Lifeguard).",
       SLIM_REF(gossip.timing.awareness_max_multiplier)});
  add({"gossip.push_pull_interval", K::k_duration, R::k_restart, 0, k_ms_d, {}, k_from_profile,
       "Interval of full state exchanges over TCP with one random member (0 = never).",
       SLIM_REF(gossip.timing.push_pull_interval)});
  add({"gossip.tcp_timeout", K::k_duration, R::k_restart, 100, 5 * k_ms_min, {}, k_from_profile,
       "Timeout of a push-pull TCP exchange.", SLIM_REF(gossip.timing.tcp_timeout)});
  add({"gossip.dead_node_grace", K::k_duration, R::k_restart, 0, k_ms_d, {}, k_from_profile,
       "How long a dead member is remembered (and gossiped about) before it is reaped.",
       SLIM_REF(gossip.timing.dead_node_grace)});
  add({"gossip.max_packet_size", K::k_integer, R::k_restart, 512, 1400, {}, {},
       "Largest UDP gossip packet in bytes.", SLIM_REF(gossip.max_packet_size)});
  add({"gossip.max_members", K::k_integer, R::k_restart, 2, 65536, {}, {},
       "Largest member table (this node, and dead members until reaped, included). Beyond it new nodes are refused, logged (rate-limited) and counted; known members are unaffected.",
       SLIM_REF(gossip.max_members)});
  // cluster
  add({"cluster.label", K::k_string, R::k_restart, 0, 255, {}, {},
       "Cluster label carried by every packet: nodes with different labels ignore each other.",
       SLIM_REF(cluster.label)});
  add({"cluster.seeds", K::k_host_port_list, R::k_live, 0, 64, {}, {},
       "Members to join at start (\"host:port\", \"[v6]:port\"); empty = a cluster of one. New seeds are joined on reload.",
       SLIM_REF(cluster.seeds)});
  // security
  add({"security.keyring_files", K::k_path_list, R::k_live, 0, 16, {}, {},
       "Files of cluster gossip keys: one base64 AES-256 key per line, the first file's first key is the primary; mode 0600 or stricter. Re-read on reload (key rotation).",
       SLIM_REF(security.keyring_files)});
  add({"security.tls_psk_file", K::k_path, R::k_live, 0, 0, {}, "the PSK derives from the primary cluster key; with no key at all, transfers are off (never unencrypted)",
       "File holding the TLS pre-shared key for expert transfers; mode 0600 or stricter. Re-read on reload.",
       SLIM_REF(security.tls_psk_file)});
  // cache
  add({"cache.policy", K::k_enum, R::k_restart, 0, 0,
       {"slim", "llru", "lru", "lru-per-layer", "fifo", "lfu", "clock", "random", "marking"}, {},
       "Memory-tier paging policy (docs/cache.md); slim is the project's own layer-aware policy with prefetch.",
       SLIM_REF(cache.policy)});
  add({"cache.prefetch", K::k_bool, R::k_live, 0, 0, {}, {},
       "Prefetch the next layer's likely experts into the memory tier.", SLIM_REF(cache.prefetch)});
  add({"cache.prefetch_depth", K::k_integer, R::k_live, 0, 256, {}, {},
       "Most experts prefetched per layer.", SLIM_REF(cache.prefetch_depth)});
  add({"cache.pin_lease", K::k_duration, R::k_live, k_ms_s, k_ms_h, {}, {},
       "A reader's pin expires after this long unless renewed (crashed readers do not leak pins).",
       SLIM_REF(cache.pin_lease)});
  // placement
  add({"placement.algorithm", K::k_enum, R::k_live, 0, 0,
       {"sgd", "sgd-fast", "greedy", "greedy-marginal", "popularity", "popularity-distinct", "layer-uniform", "random"},
       {}, "Placement algorithm (solver/algorithms.hpp, MODEL.md section 3): sgd is the successive greedy decomposition.",
       SLIM_REF(placement.algorithm)});
  add({"placement.epsilon", K::k_float, R::k_live, 0.001, 0.5, {}, {},
       "Approximation parameter of sgd-fast (each node step within 1 - epsilon of sgd's).",
       SLIM_REF(placement.epsilon)});
  add({"placement.min_epoch_interval", K::k_duration, R::k_live, k_ms_s, k_ms_d, {}, {},
       "Placement epochs never start more often than this.", SLIM_REF(placement.min_epoch_interval)});
  add({"placement.drift_threshold", K::k_float, R::k_live, 0.0, 1.0, {}, {},
       "Start an epoch when the activation statistics drift by more than this (total variation).",
       SLIM_REF(placement.drift_threshold)});
  add({"placement.migration_weight", K::k_float, R::k_live, 0.0, 1000.0, {}, {},
       "Weight of the migration cost (bytes to fetch) against the latency gain of a move.",
       SLIM_REF(placement.migration_weight)});
  add({"placement.hysteresis", K::k_float, R::k_live, 0.0, 1.0, {}, {},
       "A new placement is adopted only if it improves the objective by more than this fraction.",
       SLIM_REF(placement.hysteresis)});
  add({"placement.publish_timeout", K::k_duration, R::k_live, 100, 10 * k_ms_min, {}, {},
       "How long a node waits for the nodes before it in the epoch order before using their last placement.",
       SLIM_REF(placement.publish_timeout)});
  add({"placement.link_rtt_ms", K::k_float, R::k_live, 0.0, 10000.0, {}, {},
       "Latency model: round-trip time between two nodes, in milliseconds (the same on every node).",
       SLIM_REF(placement.link_rtt_ms)});
  add({"placement.link_bandwidth", K::k_bytes, R::k_live, 1, 1000 * k_gib, {}, {},
       "Latency model: bytes per second between two nodes.", SLIM_REF(placement.link_bandwidth)});
  add({"placement.compute_rate", K::k_bytes, R::k_live, 1, 10000 * k_gib, {}, {},
       "Latency model: expert weight bytes a node executes per second.", SLIM_REF(placement.compute_rate)});
  add({"placement.fallback_rate", K::k_bytes, R::k_live, 1, 1000 * k_gib, {}, {},
       "Latency model: bytes per second at which a client loads an expert no node caches.",
       SLIM_REF(placement.fallback_rate)});
  add({"placement.latency_expert_bytes", K::k_bytes, R::k_live, 0, 16 * k_gib, {}, "the model's expert size",
       "Latency model: model execution and loading as if each expert had this size (a scaled-down test model "
       "standing in for a real one); budgets always use the real size.",
       SLIM_REF(placement.latency_expert_bytes)});
  // transfer
  add({"transfer.max_parallel", K::k_integer, R::k_restart, 1, 16, {}, {},
       "Expert transfers this node runs at once, fetching; and uploads it serves at once.",
       SLIM_REF(transfer.max_parallel)});
  add({"transfer.rate_limit", K::k_bytes, R::k_restart, 0, 16 * k_gib, {}, "unlimited",
       "Bandwidth limit in bytes per second for all transfers of this node (sent and received); 0 = unlimited.",
       SLIM_REF(transfer.rate_limit)});
  add({"transfer.io_timeout", K::k_duration, R::k_restart, 100, 10 * k_ms_min, {}, {},
       "A transfer step (connect, handshake, read, write) that makes no progress for this long fails.",
       SLIM_REF(transfer.io_timeout)});
  add({"transfer.chunk_size", K::k_bytes, R::k_restart, 4096, 16777216, {}, {},
       "Bytes per CHUNK frame this node sends (and the largest it accepts is 16 MiB).",
       SLIM_REF(transfer.chunk_size)});
  add({"transfer.stripes", K::k_integer, R::k_restart, 1, 8, {}, {},
       "TLS connections one expert is fetched over at once (ranges of the blob), so decryption uses several cores.",
       SLIM_REF(transfer.stripes)});
  // admin
  add({"admin.socket_path", K::k_path, R::k_restart, 0, 107, {},
       "$RUNTIME_DIRECTORY/admin.sock, else /run/slimcache/admin.sock as root, else $XDG_RUNTIME_DIR/slimcache/admin.sock",
       "Unix socket of the admin protocol (slimctl).", SLIM_REF(admin.socket_path)});
  add({"admin.group", K::k_name, R::k_restart, 0, 32, {}, "the daemon's primary group",
       "Group owning the admin socket: its members may run slimctl.", SLIM_REF(admin.group)});
  add({"admin.mode", K::k_mode, R::k_restart, 0600, 0770, {}, {},
       "Permissions of the admin socket: owner read/write required, nothing for others.", SLIM_REF(admin.mode)});
  // metrics
  add({"metrics.enabled", K::k_bool, R::k_restart, 0, 0, {}, {},
       "Serve Prometheus metrics over HTTP.", SLIM_REF(metrics.enabled)});
  add({"metrics.address", K::k_host, R::k_restart, 0, 0, {}, {},
       "Loopback address of the metrics endpoint (127.0.0.1 or ::1).", SLIM_REF(metrics.address)});
  add({"metrics.port", K::k_port, R::k_restart, 0, 65535, {}, {},
       "TCP port of the metrics endpoint (0 = any free port).", SLIM_REF(metrics.port)});
  // logging
  add({"logging.level", K::k_enum, R::k_live, 0, 0, {"error", "warning", "notice", "info", "debug"}, {},
       "Least severe level logged (journald priorities 3 to 7).", SLIM_REF(logging.level)});
  add({"logging.rate_limit_interval", K::k_duration, R::k_live, 0, k_ms_h, {}, {},
       "Window of the repeated-message limiter (0 = no limit).", SLIM_REF(logging.rate_limit_interval)});
  add({"logging.rate_limit_burst", K::k_integer, R::k_live, 1, 10000, {}, {},
       "Repeats of one message logged per window; the rest are counted and summarised.",
       SLIM_REF(logging.rate_limit_burst)});
  return s;
}
#undef SLIM_REF

struct Location {
  std::string file;
  std::uint32_t line = 0;
  std::uint32_t column = 0;
};

Location location_of(const toml::source_region& r, const std::string& fallback_file) {
  Location loc;
  loc.file = r.path ? *r.path : fallback_file;
  loc.line = r.begin.line;
  loc.column = r.begin.column;
  return loc;
}

ConfigError make_error(const Location& loc, std::string key, std::string message) {
  return ConfigError{loc.file, loc.line, loc.column, std::move(key), std::move(message)};
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string format_number(double v) {
  if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<std::int64_t>(v));
  std::ostringstream os;
  os << v;
  return os.str();
}

std::string bounds_text(const FieldSpec& f) {
  switch (f.kind) {
    case FieldKind::k_bytes: {
      return "between " + format_bytes_value(static_cast<std::uint64_t>(f.min)) + " and " +
             format_bytes_value(static_cast<std::uint64_t>(f.max));
    }
    case FieldKind::k_duration:
      return "between " + format_duration_value(Millis{static_cast<Millis::rep>(f.min)}) + " and " +
             format_duration_value(Millis{static_cast<Millis::rep>(f.max)});
    case FieldKind::k_mode: {
      char buf[32];
      std::snprintf(buf, sizeof buf, "between 0o%o and 0o%o", static_cast<unsigned>(f.min),
                    static_cast<unsigned>(f.max));
      return buf;
    }
    default:
      return "between " + format_number(f.min) + " and " + format_number(f.max);
  }
}

std::string choices_text(const FieldSpec& f) {
  std::string out;
  for (std::size_t i = 0; i < f.choices.size(); ++i) {
    if (i > 0) out += i + 1 == f.choices.size() ? " or " : ", ";
    out += '"';  // appended piecewise: GCC 12 -O3 reports a false -Wrestrict on "x" + string
    out += f.choices[i];
    out += '"';
  }
  return out;
}

bool is_ip_literal(const std::string& s) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool is_loopback(const std::string& s) {
  unsigned char buf[sizeof(struct in6_addr)];
  if (inet_pton(AF_INET, s.c_str(), buf) == 1) return buf[0] == 127;
  if (inet_pton(AF_INET6, s.c_str(), buf) == 1) {
    static const unsigned char k_v6_loopback[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    return std::memcmp(buf, k_v6_loopback, 16) == 0;
  }
  return false;
}

bool is_hostname(std::string_view s) {
  if (s.empty() || s.size() > 253) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

bool is_name(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
  });
}

// "host:port" or "[v6]:port"; returns an error message or "".
std::string check_host_port(const std::string& s) {
  std::string host;
  std::string port;
  if (!s.empty() && s.front() == '[') {
    const auto close = s.find(']');
    if (close == std::string::npos || close + 1 >= s.size() || s[close + 1] != ':')
      return "\"" + s + "\" is not \"[address]:port\"";
    host = s.substr(1, close - 1);
    port = s.substr(close + 2);
    unsigned char buf[sizeof(struct in6_addr)];
    if (inet_pton(AF_INET6, host.c_str(), buf) != 1) return "\"" + host + "\" is not an IPv6 address";
  } else {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos) return "\"" + s + "\" has no port: expected \"host:port\"";
    host = s.substr(0, colon);
    port = s.substr(colon + 1);
    if (host.find(':') != std::string::npos) return "\"" + s + "\": write IPv6 addresses as \"[address]:port\"";
    if (!is_hostname(host)) return "\"" + host + "\" is not a host name or address";
  }
  if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return "\"" + port + "\" is not a port number";
  const long p = std::strtol(port.c_str(), nullptr, 10);
  if (p < 1 || p > 65535) return "port " + port + " is not between 1 and 65535";
  return {};
}

// ---------------------------------------------------------------- decoding
class Decoder {
 public:
  Decoder(DaemonConfig& config, ConfigErrors& errors, std::map<std::string, Location>& origins)
      : m_config(config), m_errors(errors), m_origins(origins) {}
  [[nodiscard]] const std::set<std::string>& failed() const { return m_failed; }

  void decode_table(const toml::table& table, const std::string& prefix, const std::string& file) {
    const auto& schema = daemon_config_schema();
    for (auto&& [key, node] : table) {
      const std::string full = prefix.empty() ? std::string(key.str()) : prefix + "." + std::string(key.str());
      const Location key_loc = location_of(key.source(), file);
      const FieldSpec* spec = nullptr;
      for (const auto& f : schema)
        if (f.key == full) spec = &f;
      if (spec != nullptr) {
        decode_field(*spec, node, location_of(node.source(), file));
        continue;
      }
      if (prefix.empty() && is_section(full)) {
        if (const auto* sub = node.as_table()) {
          decode_table(*sub, full, file);
        } else {
          m_errors.push_back(make_error(key_loc, full, "expected a table ([" + full + "])"));
        }
        continue;
      }
      if (prefix.empty() && node.is_table())
        m_errors.push_back(make_error(key_loc, full, "unknown section [" + full + "]" + suggestion(full)));
      else
        m_errors.push_back(make_error(key_loc, full, "unknown key" + suggestion(full)));
    }
  }

 private:
  static bool is_section(const std::string& name) {
    for (const auto& f : daemon_config_schema())
      if (f.key.substr(0, f.key.find('.')) == name) return true;
    return false;
  }

  static std::string suggestion(const std::string& full) {
    std::string best;
    std::size_t best_d = 3;
    for (const auto& f : daemon_config_schema()) {
      const std::size_t d = edit_distance(full, f.key);
      if (d < best_d) {
        best_d = d;
        best = std::string(f.key);
      }
      // The leaf under another section ("network.probe_interval" for "gossip.probe_interval").
      const auto dot = f.key.find('.');
      const auto fdot = full.find('.');
      if (fdot != std::string::npos && f.key.substr(dot + 1) == full.substr(fdot + 1) && best.empty())
        best = std::string(f.key);
    }
    return best.empty() ? std::string() : " (did you mean \"" + best + "\"?)";
  }

  void fail(const Location& loc, const FieldSpec& f, std::string message) {
    m_failed.insert(std::string(f.key));
    m_errors.push_back(make_error(loc, std::string(f.key), std::move(message)));
  }

  static std::string type_name(const toml::node& n) {
    switch (n.type()) {
      case toml::node_type::table: return "a table";
      case toml::node_type::array: return "an array";
      case toml::node_type::string: return "a string";
      case toml::node_type::integer: return "an integer";
      case toml::node_type::floating_point: return "a float";
      case toml::node_type::boolean: return "a boolean";
      default: return "a date/time";
    }
  }

  std::optional<std::string> want_string(const FieldSpec& f, const toml::node& n, const Location& loc) {
    if (const auto* v = n.as_string()) return v->get();
    fail(loc, f, "expected a string, got " + type_name(n));
    return std::nullopt;
  }

  std::optional<std::vector<std::pair<std::string, Location>>> want_string_array(
      const FieldSpec& f, const toml::node& n, const Location& loc) {
    const auto* arr = n.as_array();
    if (arr == nullptr) {
      fail(loc, f, "expected an array of strings, got " + type_name(n));
      return std::nullopt;
    }
    std::vector<std::pair<std::string, Location>> out;
    bool ok = true;
    for (const auto& item : *arr) {
      const Location item_loc = location_of(item.source(), loc.file);
      if (const auto* s = item.as_string()) {
        out.emplace_back(s->get(), item_loc);
      } else {
        fail(item_loc, f, "expected an array of strings, found " + type_name(item));
        ok = false;
      }
    }
    if (out.size() < static_cast<std::size_t>(f.min) || out.size() > static_cast<std::size_t>(f.max)) {
      fail(loc, f, "expected between " + format_number(f.min) + " and " + format_number(f.max) +
                       " entries, got " + std::to_string(out.size()));
      ok = false;
    }
    if (!ok) return std::nullopt;
    return out;
  }

  bool in_bounds(const FieldSpec& f, double v) { return v >= f.min && v <= f.max; }

  template <typename T>
  void store(const FieldSpec& f, T value, const Location& loc) {
    FieldRef ref = f.ref(m_config);
    if (auto** p = std::get_if<T*>(&ref)) {
      **p = std::move(value);
      m_origins[std::string(f.key)] = loc;
    }
  }

  void store_integer(const FieldSpec& f, std::int64_t v, const Location& loc) {
    FieldRef ref = f.ref(m_config);
    if (auto** p16 = std::get_if<std::uint16_t*>(&ref)) **p16 = static_cast<std::uint16_t>(v);
    if (auto** p32 = std::get_if<std::uint32_t*>(&ref)) **p32 = static_cast<std::uint32_t>(v);
    if (auto** p64 = std::get_if<std::uint64_t*>(&ref)) **p64 = static_cast<std::uint64_t>(v);
    m_origins[std::string(f.key)] = loc;
  }

  void decode_field(const FieldSpec& f, const toml::node& n, const Location& loc) {
    using K = FieldKind;
    switch (f.kind) {
      case K::k_string: {
        auto s = want_string(f, n, loc);
        if (!s) return;
        if (s->size() > static_cast<std::size_t>(f.max))
          return fail(loc, f, "longer than " + format_number(f.max) + " characters");
        if (std::any_of(s->begin(), s->end(), [](unsigned char c) { return c < 0x20; }))
          return fail(loc, f, "contains control characters");
        return store(f, *s, loc);
      }
      case K::k_name: {
        auto s = want_string(f, n, loc);
        if (!s) return;
        if (s->empty() && f.automatic.empty()) return fail(loc, f, "must not be empty");
        if (s->size() > static_cast<std::size_t>(f.max))
          return fail(loc, f, "longer than " + format_number(f.max) + " characters");
        if (!is_name(*s))
          return fail(loc, f, "\"" + *s + "\" may contain only letters, digits, '.', '_' and '-'");
        return store(f, *s, loc);
      }
      case K::k_path: {
        auto s = want_string(f, n, loc);
        if (!s) return;
        if (s->empty() && f.automatic.empty()) return fail(loc, f, "must not be empty");
        if (!s->empty() && s->front() != '/') return fail(loc, f, "\"" + *s + "\" is not an absolute path");
        const std::size_t limit = f.max > 0 ? static_cast<std::size_t>(f.max) : 4095;
        if (s->size() > limit) return fail(loc, f, "longer than " + std::to_string(limit) + " characters");
        return store(f, *s, loc);
      }
      case K::k_host: {
        auto s = want_string(f, n, loc);
        if (!s) return;
        if (s->empty() && !f.automatic.empty()) return store(f, *s, loc);
        if (!is_ip_literal(*s)) return fail(loc, f, "\"" + *s + "\" is not an IPv4 or IPv6 address");
        return store(f, *s, loc);
      }
      case K::k_enum: {
        auto s = want_string(f, n, loc);
        if (!s) return;
        if (std::find(f.choices.begin(), f.choices.end(), *s) == f.choices.end())
          return fail(loc, f, "\"" + *s + "\" is not one of " + choices_text(f));
        return store(f, *s, loc);
      }
      case K::k_enum_list: {
        auto items = want_string_array(f, n, loc);
        if (!items) return;
        std::vector<std::string> out;
        bool ok = true;
        for (const auto& [s, item_loc] : *items) {
          if (std::find(f.choices.begin(), f.choices.end(), s) == f.choices.end()) {
            fail(item_loc, f, "\"" + s + "\" is not one of " + choices_text(f));
            ok = false;
          } else if (std::find(out.begin(), out.end(), s) != out.end()) {
            fail(item_loc, f, "\"" + s + "\" is listed twice");
            ok = false;
          }
          out.push_back(s);
        }
        if (ok) store(f, std::move(out), loc);
        return;
      }
      case K::k_host_port_list:
      case K::k_path_list: {
        auto items = want_string_array(f, n, loc);
        if (!items) return;
        std::vector<std::string> out;
        bool ok = true;
        for (const auto& [s, item_loc] : *items) {
          std::string why;
          if (f.kind == K::k_host_port_list) why = check_host_port(s);
          else if (s.empty() || s.front() != '/') why = "\"" + s + "\" is not an absolute path";
          if (!why.empty()) {
            fail(item_loc, f, why);
            ok = false;
          }
          out.push_back(s);
        }
        if (ok) store(f, std::move(out), loc);
        return;
      }
      case K::k_bool: {
        if (const auto* b = n.as_boolean()) return store(f, b->get(), loc);
        return fail(loc, f, "expected true or false, got " + type_name(n));
      }
      case K::k_integer:
      case K::k_port: {
        const auto* i = n.as_integer();
        if (i == nullptr) return fail(loc, f, "expected an integer, got " + type_name(n));
        const std::int64_t v = i->get();
        if (!in_bounds(f, static_cast<double>(v)))
          return fail(loc, f, std::to_string(v) + " is not " + bounds_text(f));
        return store_integer(f, v, loc);
      }
      case K::k_mode: {
        std::int64_t v = -1;
        if (const auto* i = n.as_integer()) {
          v = i->get();
        } else if (const auto* s = n.as_string()) {
          const std::string& t = s->get();
          const bool octal = !t.empty() && t.size() <= 4 &&
                             std::all_of(t.begin(), t.end(), [](char c) { return c >= '0' && c <= '7'; });
          if (!octal) return fail(loc, f, "\"" + t + "\" is not an octal mode such as \"0660\"");
          v = std::strtol(t.c_str(), nullptr, 8);
        } else {
          return fail(loc, f, "expected an octal mode (0o660 or \"0660\"), got " + type_name(n));
        }
        char buf[16];
        std::snprintf(buf, sizeof buf, "0%o", static_cast<unsigned>(v & 07777));
        if (v < 0 || v > 0777) return fail(loc, f, "not a permission mode");
        if ((v & 0007) != 0) return fail(loc, f, std::string(buf) + " gives others access: clear the last digit");
        if ((v & 0600) != 0600) return fail(loc, f, std::string(buf) + " must let the owner read and write (0600)");
        if (!in_bounds(f, static_cast<double>(v))) return fail(loc, f, std::string(buf) + " is not " + bounds_text(f));
        return store_integer(f, v, loc);
      }
      case K::k_float: {
        double v = 0;
        if (const auto* d = n.as_floating_point()) v = d->get();
        else if (const auto* i = n.as_integer()) v = static_cast<double>(i->get());
        else return fail(loc, f, "expected a number, got " + type_name(n));
        if (!std::isfinite(v) || !in_bounds(f, v)) return fail(loc, f, format_number(v) + " is not " + bounds_text(f));
        return store(f, v, loc);
      }
      case K::k_bytes: {
        std::uint64_t v = 0;
        if (const auto* i = n.as_integer()) {
          if (i->get() < 0) return fail(loc, f, "a size cannot be negative");
          v = static_cast<std::uint64_t>(i->get());
        } else if (const auto* s = n.as_string()) {
          auto parsed = parse_bytes(s->get());
          if (!parsed) return fail(loc, f, "\"" + s->get() + "\": " + parsed.error());
          v = *parsed;
        } else {
          return fail(loc, f, "expected a size such as \"4GiB\", got " + type_name(n));
        }
        if (!in_bounds(f, static_cast<double>(v)))
          return fail(loc, f, format_bytes_value(v) + " is not " + bounds_text(f));
        return store(f, v, loc);
      }
      case K::k_duration: {
        const auto* s = n.as_string();
        if (s == nullptr) return fail(loc, f, "expected a duration string such as \"500ms\", got " + type_name(n));
        auto parsed = parse_duration(s->get());
        if (!parsed) return fail(loc, f, "\"" + s->get() + "\": " + parsed.error());
        if (!in_bounds(f, static_cast<double>(parsed->count())))
          return fail(loc, f, format_duration_value(*parsed) + " is not " + bounds_text(f));
        return store(f, *parsed, loc);
      }
    }
  }

  DaemonConfig& m_config;
  ConfigErrors& m_errors;
  std::map<std::string, Location>& m_origins;
  std::set<std::string> m_failed;
};

std::string env_var(const Environment& env, const std::string& name) {
  auto it = env.vars.find(name);
  return it == env.vars.end() ? std::string() : it->second;
}

// Reads a secret file: regular (symlinks are followed and the target checked), no group or
// other permission bits, owned by this user or root, not empty, at most 64 KiB.
Expected<std::string, std::string> read_secret_file(const std::string& path) {
  struct stat link_st {};
  if (::lstat(path.c_str(), &link_st) != 0)
    return Unexpected(path + ": " + std::strerror(errno));
  std::string via;
  if (S_ISLNK(link_st.st_mode)) {
    std::error_code ec;
    via = " (symlink to " + std::filesystem::canonical(path, ec).string() + ")";
  }
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Unexpected(path + via + ": " + std::strerror(errno));
  struct stat st {};
  std::string why;
  if (::fstat(fd, &st) != 0) {
    why = path + via + ": " + std::strerror(errno);
  } else if (!S_ISREG(st.st_mode)) {
    why = path + via + " is not a regular file";
  } else if ((st.st_mode & 077) != 0) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "0%03o", static_cast<unsigned>(st.st_mode & 0777));
    why = path + via + " has mode " + mode +
          ": secret files must not be accessible by group or others (chmod 600 " + path + ")";
  } else if (::geteuid() != 0 && st.st_uid != ::geteuid() && st.st_uid != 0) {
    why = path + via + " is owned by uid " + std::to_string(st.st_uid) + ", not by this user (uid " +
          std::to_string(::geteuid()) + ") or root";
  } else if (st.st_size > 65536) {
    why = path + via + " is larger than 64 KiB";
  }
  std::string contents;
  if (why.empty()) {
    char buf[4096];
    for (int guard = 0; guard < 32; ++guard) {  // bounded: 32 * 4 KiB >= 64 KiB
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        why = path + via + ": " + std::strerror(errno);
        break;
      }
      if (n == 0) break;
      contents.append(buf, static_cast<std::size_t>(n));
    }
    if (why.empty() && contents.empty()) why = path + via + " is empty";
  }
  ::close(fd);
  if (!why.empty()) return Unexpected(why);
  return contents;
}

// Keys that already failed to decode are left out of every check that involves them, so
// that a value left at its default never causes a second, misleading error.
// The bytes of standard base64 (padding required when the length needs it), or nullopt.
std::optional<std::string> decode_base64(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  std::uint32_t acc = 0;
  int bits = 0;
  std::size_t padding = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    int v = -1;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=' && i + 2 >= text.size()) {
      ++padding;
      continue;
    }
    if (v < 0 || padding > 0) return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

// A keyring file: one base64 AES-256 key (32 bytes) per line, the first is the primary;
// blank lines and lines starting with '#' are ignored. Returns "" or why it is invalid.
std::string check_keyring(const std::string& path, const std::string& contents) {
  std::istringstream in(contents);
  std::string line;
  std::size_t line_no = 0;
  std::size_t keys = 0;
  while (std::getline(in, line) && line_no < 100000) {
    ++line_no;
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    std::size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    const auto key = decode_base64(std::string_view(line).substr(start));
    if (!key || key->size() != 32)
      return path + ":" + std::to_string(line_no) + ": not a base64 AES-256 key (32 bytes, e.g. from `head -c32 /dev/urandom | base64`)";
    ++keys;
  }
  if (keys == 0) return path + " holds no key";
  return {};
}

void resolve_and_check(DaemonConfig& c, const Environment& env, const std::map<std::string, Location>& origins,
                       const std::set<std::string>& failed, ConfigErrors& errors) {
  auto ok = [&](std::initializer_list<const char*> keys) {
    return std::none_of(keys.begin(), keys.end(), [&](const char* k) { return failed.count(k) > 0; });
  };
  auto where = [&](const std::string& key) {
    auto it = origins.find(key);
    return it == origins.end() ? Location{} : it->second;
  };
  auto fail = [&](const std::string& key, std::string message) {
    if (failed.count(key) > 0) return;
    errors.push_back(make_error(where(key), key, std::move(message)));
  };

  // Automatic values.
  if (c.node.name.empty()) {
    std::string host = env.hostname.substr(0, env.hostname.find('.'));
    for (char& ch : host)
      if (!std::isalnum(static_cast<unsigned char>(ch)) && ch != '-' && ch != '_') ch = '-';
    c.node.name = host.empty() ? "localhost" : host.substr(0, 64);
  }
  if (c.node.state_dir.empty()) {
    std::string sd = env_var(env, "STATE_DIRECTORY");
    sd = sd.substr(0, sd.find(':'));
    if (sd.empty() && env.is_root) sd = "/var/lib/slimcache";
    if (sd.empty() && !env_var(env, "XDG_STATE_HOME").empty()) sd = env_var(env, "XDG_STATE_HOME") + "/slimcache";
    if (sd.empty() && !env_var(env, "HOME").empty()) sd = env_var(env, "HOME") + "/.local/state/slimcache";
    if (sd.empty()) fail("node.state_dir", "cannot choose a default (no $STATE_DIRECTORY, not root, no $HOME): set it");
    c.node.state_dir = sd;
  }
  if (c.node.data_dir.empty() && !c.node.state_dir.empty()) c.node.data_dir = c.node.state_dir + "/experts";
  if (c.admin.socket_path.empty()) {
    std::string rd = env_var(env, "RUNTIME_DIRECTORY");
    rd = rd.substr(0, rd.find(':'));
    if (rd.empty() && env.is_root) rd = "/run/slimcache";
    if (rd.empty() && !env_var(env, "XDG_RUNTIME_DIR").empty()) rd = env_var(env, "XDG_RUNTIME_DIR") + "/slimcache";
    if (rd.empty()) rd = c.node.state_dir;
    c.admin.socket_path = rd + "/admin.sock";
    if (c.admin.socket_path.size() > 107)
      fail("admin.socket_path", "the automatic path " + c.admin.socket_path + " is longer than 107 characters: set it");
  }
  if (c.network.advertise_address.empty()) c.network.advertise_address = c.network.bind_address;

  // Cross-checks.
  const auto& t = c.gossip.timing;
  if (ok({"gossip.probe_timeout", "gossip.probe_interval"}) && t.probe_timeout >= t.probe_interval)
    fail(origins.count("gossip.probe_timeout") ? "gossip.probe_timeout" : "gossip.probe_interval",
         "probe_timeout (" + format_duration_value(t.probe_timeout) + ") must be less than probe_interval (" +
             format_duration_value(t.probe_interval) + ")");
  if (ok({"budgets.memory", "budgets.disk"}) && c.budgets.memory > c.budgets.disk)
    fail(origins.count("budgets.memory") ? "budgets.memory" : "budgets.disk",
         "memory budget " + format_bytes_value(c.budgets.memory) + " exceeds the disk budget " +
             format_bytes_value(c.budgets.disk) + " (the memory tier pages the disk tier)");
  if (ok({"network.gossip_port", "network.transfer_port", "network.execution_port", "metrics.port", "metrics.enabled"})) {
    const std::pair<const char*, std::uint16_t> ports[] = {{"network.gossip_port", c.network.gossip_port},
                                                           {"network.transfer_port", c.network.transfer_port},
                                                           {"network.execution_port", c.network.execution_port}};
    for (std::size_t i = 0; i < 3; ++i)
      for (std::size_t j = i + 1; j < 3; ++j)
        if (ports[i].second != 0 && ports[i].second == ports[j].second)
          fail(ports[j].first, "port " + std::to_string(ports[j].second) + " is also " + ports[i].first);
    if (c.metrics.enabled && c.metrics.port != 0)
      for (const auto& [key, port] : ports)
        if (port == c.metrics.port) fail("metrics.port", "port " + std::to_string(port) + " is also " + key);
  }
  if (!is_loopback(c.metrics.address))
    fail("metrics.address", "\"" + c.metrics.address + "\" is not a loopback address (127.0.0.1 or ::1)");
  if (ok({"network.bind_address", "security.keyring_files"}) && !is_loopback(c.network.bind_address) &&
      c.security.keyring_files.empty())
    fail("network.bind_address", "binding the non-loopback address " + c.network.bind_address +
                                     " requires gossip encryption: set security.keyring_files");
  if (ok({"node.data_dir", "node.state_dir"}) && c.node.data_dir == c.node.state_dir)
    fail("node.data_dir", "must differ from node.state_dir");

  // Secrets.
  c.security.keyring_contents.clear();
  for (const auto& path : c.security.keyring_files) {
    auto secret = read_secret_file(path);
    if (!secret) {
      fail("security.keyring_files", secret.error());
    } else if (const std::string why = check_keyring(path, *secret); !why.empty()) {
      fail("security.keyring_files", why);
    } else {
      c.security.keyring_contents.push_back(std::move(*secret));
    }
  }
  c.security.tls_psk.clear();
  if (!c.security.tls_psk_file.empty()) {
    auto secret = read_secret_file(c.security.tls_psk_file);
    if (!secret) fail("security.tls_psk_file", secret.error());
    else c.security.tls_psk = std::move(*secret);
  }
}

std::string read_whole_file(const std::string& path, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = std::strerror(errno);
    return {};
  }
  std::ostringstream os;
  os << in.rdbuf();
  if (in.bad()) why = "read error";
  return os.str();
}

}  // namespace

const std::vector<FieldSpec>& daemon_config_schema() {
  static const std::vector<FieldSpec> schema = build_schema();
  return schema;
}

// ---------------------------------------------------------------- rendering
namespace {

std::string toml_quote(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", static_cast<unsigned>(static_cast<unsigned char>(c)));
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

void insert_field(toml::table& root, const FieldSpec& f, const DaemonConfig& config, bool for_json) {
  DaemonConfig copy = config;  // ref() needs a mutable config; cheap enough for rendering
  FieldRef ref = f.ref(copy);
  const auto dot = f.key.find('.');
  const std::string section(f.key.substr(0, dot));
  const std::string leaf(f.key.substr(dot + 1));
  if (!root.contains(section)) root.insert(section, toml::table{});
  toml::table& t = *root[section].as_table();
  std::visit(
      [&](auto* p) {
        using T = std::remove_pointer_t<decltype(p)>;
        if constexpr (std::is_same_v<T, std::string>) {
          t.insert(leaf, *p);
        } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
          toml::array arr;
          for (const auto& s : *p) arr.push_back(s);
          t.insert(leaf, std::move(arr));
        } else if constexpr (std::is_same_v<T, bool> || std::is_same_v<T, double>) {
          t.insert(leaf, *p);
        } else if constexpr (std::is_same_v<T, Millis>) {
          t.insert(leaf, format_duration_value(*p));
        } else if constexpr (std::is_same_v<T, std::uint64_t>) {
          if (f.kind == FieldKind::k_bytes && !for_json) t.insert(leaf, format_bytes_value(*p));
          else t.insert(leaf, static_cast<std::int64_t>(*p));
        } else {
          if (f.kind == FieldKind::k_mode) {
            if (for_json) {
              char buf[16];
              std::snprintf(buf, sizeof buf, "0%o", static_cast<unsigned>(*p));
              t.insert(leaf, std::string(buf));
            } else {
              toml::value<std::int64_t> v(static_cast<std::int64_t>(*p));
              v.flags(toml::value_flags::format_as_octal);
              t.insert(leaf, std::move(v));
            }
          } else {
            t.insert(leaf, static_cast<std::int64_t>(*p));
          }
        }
      },
      ref);
}

}  // namespace

std::string render_value(const FieldSpec& spec, const DaemonConfig& config) {
  toml::table root;
  insert_field(root, spec, config, false);
  const auto dot = spec.key.find('.');
  const toml::node* n = root[spec.key.substr(0, dot)][spec.key.substr(dot + 1)].node();
  if (n == nullptr) return {};  // insert_field always inserts the key
  std::ostringstream os;
  if (const auto* s = n->as_string()) return toml_quote(s->get());
  if (const auto* arr = n->as_array()) {
    os << "[";
    for (std::size_t i = 0; i < arr->size(); ++i) os << (i ? ", " : "") << toml_quote(*(*arr)[i].value<std::string>());
    os << "]";
    return os.str();
  }
  if (const auto* i = n->as_integer()) {
    if (spec.kind == FieldKind::k_mode) {
      char buf[16];
      std::snprintf(buf, sizeof buf, "0o%o", static_cast<unsigned>(i->get()));
      return buf;
    }
    return std::to_string(i->get());
  }
  if (const auto* b = n->as_boolean()) return b->get() ? "true" : "false";
  if (const auto* d = n->as_floating_point()) {
    std::ostringstream fs;
    fs << toml::value<double>(d->get());
    return fs.str();
  }
  return {};
}

std::string format_config(const DaemonConfig& config, Format format) {
  toml::table root;
  for (const auto& f : daemon_config_schema()) insert_field(root, f, config, format == Format::k_json);
  std::ostringstream os;
  if (format == Format::k_json) {
    // nlohmann keeps schema order and prints floats in their shortest form; one line.
    nlohmann::ordered_json out = nlohmann::ordered_json::object();
    for (const auto& f : daemon_config_schema()) {
      const auto dot = f.key.find('.');
      const std::string section(f.key.substr(0, dot));
      const toml::node* n = root[section][f.key.substr(dot + 1)].node();
      if (n == nullptr) continue;  // every schema key was inserted above
      nlohmann::ordered_json v;
      if (const auto* s = n->as_string()) v = s->get();
      else if (const auto* i = n->as_integer()) v = i->get();
      else if (const auto* d = n->as_floating_point()) v = d->get();
      else if (const auto* b = n->as_boolean()) v = b->get();
      else if (const auto* arr = n->as_array()) {
        v = nlohmann::ordered_json::array();
        for (const auto& item : *arr) v.push_back(item.value<std::string>().value_or(""));
      }
      out[section][std::string(f.key.substr(dot + 1))] = std::move(v);
    }
    os << out.dump();
  } else {
    std::string section;
    for (const auto& f : daemon_config_schema()) {
      const auto dot = f.key.find('.');
      if (f.key.substr(0, dot) != section) {
        os << (section.empty() ? "" : "\n") << "[" << f.key.substr(0, dot) << "]\n";
        section = std::string(f.key.substr(0, dot));
      }
      os << f.key.substr(dot + 1) << " = " << render_value(f, config) << "\n";
    }
    return os.str();
  }
  os << "\n";
  return os.str();
}

// ---------------------------------------------------------------- loading
Environment Environment::current() {
  Environment env;
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') env.hostname = host;
  env.is_root = ::geteuid() == 0;
  for (const char* name : {"STATE_DIRECTORY", "RUNTIME_DIRECTORY", "HOME", "XDG_STATE_HOME", "XDG_RUNTIME_DIR"})
    if (const char* v = std::getenv(name)) env.vars[name] = v;
  return env;
}

Expected<DaemonConfig, ConfigErrors> parse_daemon_config(const std::vector<ConfigSource>& sources,
                                                         const Environment& environment) {
  DaemonConfig config;
  ConfigErrors errors;
  std::map<std::string, Location> origins;
  std::vector<std::pair<std::string, toml::table>> tables;
  for (const auto& src : sources) {
    if (const auto bad = screen_toml_text(src.text)) {
      errors.push_back(make_error(Location{src.name, static_cast<std::uint32_t>(bad->line), static_cast<std::uint32_t>(bad->column)}, "", bad->message));
      continue;
    }
    toml::parse_result parsed = toml::parse(src.text, src.name);
    if (!parsed) {
      const auto& err = parsed.error();
      errors.push_back(make_error(location_of(err.source(), src.name), "", std::string(err.description())));
      continue;
    }
    tables.emplace_back(src.name, std::move(parsed).table());
  }
  // The timing profile first (the last file that sets it wins), then every key in order.
  for (const auto& entry : tables) {
    const std::optional<std::string> profile = entry.second["gossip"]["profile"].value<std::string>();
    if (profile && gossip_profile(*profile) != nullptr) config.gossip.profile = *profile;
  }
  config.gossip.timing = *gossip_profile(config.gossip.profile);
  Decoder decoder(config, errors, origins);
  for (const auto& [name, table] : tables) decoder.decode_table(table, "", name);
  for (const auto& src : sources) config.source_files.push_back(src.name);
  resolve_and_check(config, environment, origins, decoder.failed(), errors);
  if (errors.empty()) return config;
  // Report in reading order: file by file, then line and column (defaults-level errors last).
  auto rank = [&](const ConfigError& e) {
    for (std::size_t i = 0; i < sources.size(); ++i)
      if (sources[i].name == e.file) return i;
    return sources.size();
  };
  std::stable_sort(errors.begin(), errors.end(), [&](const ConfigError& a, const ConfigError& b) {
    return std::tuple(rank(a), a.line, a.column) < std::tuple(rank(b), b.line, b.column);
  });
  return Unexpected(std::move(errors));
}

Expected<DaemonConfig, ConfigErrors> load_daemon_config(const LoadOptions& options) {
  std::vector<ConfigSource> sources;
  ConfigErrors errors;
  namespace fs = std::filesystem;
  if (!options.config_file.empty()) {
    std::string why;
    std::string text = read_whole_file(options.config_file, why);
    if (!why.empty()) errors.push_back(ConfigError{options.config_file, 0, 0, "", "cannot read: " + why});
    else sources.push_back({options.config_file, std::move(text)});
  }
  std::string dir = options.drop_in_dir;
  bool explicit_dir = !dir.empty();
  if (!explicit_dir && !options.config_file.empty())
    dir = (fs::path(options.config_file).parent_path() / "config.d").string();
  if (!dir.empty()) {
    std::error_code ec;
    const bool exists = fs::is_directory(dir, ec);
    if (!exists && explicit_dir) {
      errors.push_back(ConfigError{dir, 0, 0, "", "drop-in directory does not exist or is not a directory"});
    } else if (exists) {
      std::vector<std::string> files;
      for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (it->path().extension() == ".toml" && it->path().filename().string().front() != '.')
          files.push_back(it->path().string());
      if (ec) errors.push_back(ConfigError{dir, 0, 0, "", "cannot list: " + ec.message()});
      std::sort(files.begin(), files.end());
      for (const auto& file : files) {
        std::string why;
        std::string text = read_whole_file(file, why);
        if (!why.empty()) errors.push_back(ConfigError{file, 0, 0, "", "cannot read: " + why});
        else sources.push_back({file, std::move(text)});
      }
    }
  }
  auto parsed = parse_daemon_config(sources, options.environment);
  if (!parsed) {
    for (auto& e : ConfigErrors(std::move(parsed).error())) errors.push_back(std::move(e));
  }
  if (!errors.empty()) return Unexpected(std::move(errors));
  return parsed;
}

// ---------------------------------------------------------------- reload
ReloadPlan plan_reload(const DaemonConfig& running, const Expected<DaemonConfig, ConfigErrors>& candidate) {
  ReloadPlan plan;
  if (!candidate.has_value()) {
    plan.errors = candidate.error();
    return plan;
  }
  plan.accepted = true;
  const DaemonConfig& next = candidate.value();
  for (const auto& f : daemon_config_schema()) {
    const std::string before = render_value(f, running);
    const std::string after = render_value(f, next);
    if (before == after) continue;
    ConfigChange change{std::string(f.key), before, after};
    (f.reload == Reload::k_live ? plan.live : plan.restart).push_back(std::move(change));
  }
  const bool keys_changed = running.security.keyring_files == next.security.keyring_files &&
                            running.security.keyring_contents != next.security.keyring_contents;
  if (keys_changed) plan.live.push_back({"security.keyring_files", "(contents)", "(new contents)"});
  const bool psk_changed = running.security.tls_psk_file == next.security.tls_psk_file &&
                           running.security.tls_psk != next.security.tls_psk;
  if (psk_changed) plan.live.push_back({"security.tls_psk_file", "(contents)", "(new contents)"});
  return plan;
}

}  // namespace slimcache::config

// ---------------------------------------------------------------- documentation
namespace slimcache::config {

std::string describe_bounds(const FieldSpec& f) {
  using K = FieldKind;
  const std::string chars = "at most " + format_number(f.max) + " characters";
  switch (f.kind) {
    case K::k_string: return chars;
    case K::k_name: return "letters, digits, '.', '_' and '-', " + chars;
    case K::k_path: return f.max > 0 ? "an absolute path, " + chars : "an absolute path";
    case K::k_host: return "an IPv4 or IPv6 address";
    case K::k_enum: return "one of " + choices_text(f);
    case K::k_enum_list: return format_number(f.min) + " to " + format_number(f.max) + " of " + choices_text(f);
    case K::k_host_port_list: return "at most " + format_number(f.max) + " \"host:port\" entries";
    case K::k_path_list: return "at most " + format_number(f.max) + " absolute paths";
    case K::k_bool: return "true or false";
    default: return bounds_text(f);
  }
}

namespace {

std::string default_text(const FieldSpec& f, const DaemonConfig& defaults) {
  if (!f.automatic.empty()) {
    if (f.automatic == k_from_profile) return render_value(f, defaults) + " (lan profile)";
    return "automatic: " + std::string(f.automatic);
  }
  return render_value(f, defaults);
}

const char* section_help(std::string_view section) {
  if (section == "node") return "This node: its name, directories and roles.";
  if (section == "budgets") return "Storage budgets: Q_n (disk tier) and M_n (memory tier). Units: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB.";
  if (section == "network") return "Sockets. Loopback by default: a single node that talks to nobody.";
  if (section == "gossip") return "Membership gossip (SWIM + Lifeguard). Durations: ms, s, m, h, d (\"1m30s\").";
  if (section == "cluster") return "Which cluster to join.";
  if (section == "security") return "Secrets are read from files only: regular files (or symlinks to them) with mode 0600 or stricter.";
  if (section == "cache") return "The local cache: disk tier plus shared-memory tier.";
  if (section == "placement") return "The decentralised placement solver (MODEL.md section 3.5).";
  if (section == "transfer") return "Peer expert transfers over TLS (docs/transfer.md). Needs a cluster key (security.keyring_files) or security.tls_psk_file: without one, transfers are off.";
  if (section == "admin") return "The admin socket used by slimctl.";
  if (section == "metrics") return "Prometheus metrics over HTTP, loopback only.";
  if (section == "logging") return "Logs go to stderr with journald priority prefixes.";
  return "";
}

void wrap_comment(std::string& out, const std::string& text) {
  std::istringstream words(text);
  std::string word;
  std::string line = "#";
  while (words >> word) {
    if (line.size() + 1 + word.size() > 92) {
      out += line + "\n";
      line = "#";
    }
    line += " " + word;
  }
  if (line != "#") out += line + "\n";
}

}  // namespace

std::string format_example() {
  const DaemonConfig defaults;
  std::string out;
  out +=
      "# slimcached configuration: every key, with its default, its bounds and whether a reload\n"
      "# (SIGHUP, systemctl reload slimcached) applies it live or it needs a restart.\n"
      "#\n"
      "# With no file at all the daemon runs on these defaults: a single node on loopback.\n"
      "# Files in the drop-in directory (config.d/*.toml next to this file) are applied after\n"
      "# this one, in name order. Unknown keys are errors. Check with: slimctl config check FILE\n"
      "# Commented-out keys are resolved automatically (or from gossip.profile) when absent.\n"
      "#\n"
      "# This file is generated by `slimctl config example` from the schema in\n"
      "# config/daemon_config.cpp; a test keeps the two identical. Reference: docs/configuration.md\n";
  std::string section;
  for (const auto& f : daemon_config_schema()) {
    const auto dot = f.key.find('.');
    const std::string sec(f.key.substr(0, dot));
    const std::string leaf(f.key.substr(dot + 1));
    if (sec != section) {
      section = sec;
      out += "\n[" + section + "]\n";
      wrap_comment(out, section_help(section));
    }
    out += "\n";
    wrap_comment(out, std::string(f.help));
    wrap_comment(out, "Default: " + default_text(f, defaults) + ". Bounds: " + describe_bounds(f) +
                          ". Reload: " + (f.reload == Reload::k_live ? "live." : "restart."));
    const bool commented = !f.automatic.empty();
    out += (commented ? "# " : "") + leaf + " = " + render_value(f, defaults) + "\n";
  }
  return out;
}

std::string format_reference_markdown() {
  const DaemonConfig defaults;
  std::string out = "| key | default | bounds | reload | meaning |\n|---|---|---|---|---|\n";
  auto cell = [](std::string s) {
    std::string r;
    for (char c : s) r += c == '|' ? std::string("\\|") : std::string(1, c);
    return r;
  };
  for (const auto& f : daemon_config_schema()) {
    out += "| `" + std::string(f.key) + "` | `" + cell(default_text(f, defaults)) + "` | " +
           cell(describe_bounds(f)) + " | " + (f.reload == Reload::k_live ? "live" : "restart") + " | " +
           cell(std::string(f.help)) + " |\n";
  }
  return out;
}

DaemonConfig apply_live(const DaemonConfig& running, const DaemonConfig& next) {
  DaemonConfig out = running;
  DaemonConfig source = next;
  for (const auto& f : daemon_config_schema()) {
    if (f.reload != Reload::k_live) continue;
    FieldRef dst = f.ref(out);
    const FieldRef src = f.ref(source);
    std::visit([&src](auto* d) { *d = *std::get<std::remove_pointer_t<decltype(d)>*>(src); }, dst);
  }
  out.security.keyring_contents = next.security.keyring_contents;
  out.security.tls_psk = next.security.tls_psk;
  out.source_files = next.source_files;
  return out;
}

}  // namespace slimcache::config
