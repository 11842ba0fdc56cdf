#pragma once
// slimcached's configuration: a TOML schema with embedded defaults and bounds.
//
// Sources, in order, each overriding the previous: the embedded defaults, the main file
// (optional: no file means a single node on loopback), then every `*.toml` of the drop-in
// directory in name order. Tables merge key by key; arrays replace. `gossip.profile`
// selects a timing preset (lan, wan, local: memberlist's profiles) and the individual
// gossip keys override it, whichever file sets them.
//
// Success: a fully resolved DaemonConfig (automatic values such as the node name and the
// state directory filled in from the Environment) that passed every bound and cross-check.
// Failure: ALL errors found, each with file, line, column and key path; unknown keys and
// values of the wrong type are errors. Secret files (keyring, TLS PSK) must be regular
// files (a symlink is followed and its target checked) without any group or other
// permission bits; they are read (at most 64 KiB) into the config.
//
// Threads: the functions are thread-safe (no shared mutable state). Exceptions: none.
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "solver/expected.hpp"

namespace slimcache::config {

using Millis = std::chrono::milliseconds;

struct GossipTiming {
  Millis probe_interval{1000};
  Millis probe_timeout{500};
  std::uint32_t indirect_checks = 3;
  Millis gossip_interval{200};
  std::uint32_t gossip_fanout = 3;
  std::uint32_t retransmit_multiplier = 4;
  std::uint32_t suspicion_multiplier = 4;
  std::uint32_t suspicion_max_timeout_multiplier = 6;
  std::uint32_t awareness_max_multiplier = 8;
  Millis push_pull_interval{30000};
  Millis tcp_timeout{10000};
  Millis dead_node_grace{30000};
  bool operator==(const GossipTiming&) const = default;
};

// memberlist's DefaultLANConfig, DefaultWANConfig, DefaultLocalConfig. nullptr if unknown.
[[nodiscard]] const GossipTiming* gossip_profile(std::string_view name);

struct DaemonConfig {
  struct Node {
    std::string name;                 // "" in the file = the host name
    std::string state_dir;            // "" = $STATE_DIRECTORY, /var/lib/slimcache or XDG
    std::string data_dir;             // "" = <state_dir>/experts
    std::vector<std::string> roles{"server", "client"};
  } node;
  struct Budgets {
    std::uint64_t disk = 16ull << 30;    // Q_n
    std::uint64_t memory = 1ull << 30;   // M_n (0 = no memory tier)
  } budgets;
  struct Network {
    std::string bind_address = "127.0.0.1";
    std::string advertise_address;       // "" = bind_address
    std::uint16_t gossip_port = 7946;    // UDP and TCP
    std::uint16_t transfer_port = 7947;
    std::uint16_t execution_port = 7948;
  } network;
  struct Gossip {
    std::string profile = "lan";
    GossipTiming timing;
    std::uint32_t max_packet_size = 1400;
    std::uint32_t max_members = 1024;     // member table entries, this node and dead ones included
  } gossip;
  struct Cluster {
    std::string label;
    std::vector<std::string> seeds;      // "host:port"
  } cluster;
  struct Security {
    // One base64 AES-256 key per line (the first is the primary), '#' comments allowed.
    std::vector<std::string> keyring_files;
    std::string tls_psk_file;
    // Read from the files above by the loader (never printed).
    std::vector<std::string> keyring_contents;
    std::string tls_psk;
  } security;
  struct Cache {
    std::string policy = "slim";
    bool prefetch = true;
    std::uint32_t prefetch_depth = 8;
    Millis pin_lease{30000};
  } cache;
  struct Placement {
    std::string algorithm = "sgd-fast";
    double epsilon = 0.01;
    Millis min_epoch_interval{30000};
    double drift_threshold = 0.1;
    double migration_weight = 1.0;
    double hysteresis = 0.05;
    Millis publish_timeout{10000};
    // The latency model of the instance every node builds (MODEL.md section 2); it must be
    // the same on every node (it is part of the inputs digest).
    double link_rtt_ms = 0.5;
    std::uint64_t link_bandwidth = 125'000'000;     // bytes per second between nodes
    std::uint64_t compute_rate = 50'000'000'000;    // expert weight bytes executed per second
    std::uint64_t fallback_rate = 400'000'000;      // bytes per second to load an uncached expert
    std::uint64_t latency_expert_bytes = 0;         // 0: the model's; else model latencies at this size
  } placement;
  struct Transfer {
    std::uint32_t max_parallel = 2;      // fetches at once, and uploads served at once
    std::uint64_t rate_limit = 0;        // bytes/s for all transfers of the node, 0 = unlimited
    Millis io_timeout{10000};            // a network step without progress fails after this
    std::uint64_t chunk_size = 1ull << 20;
    std::uint32_t stripes = 2;           // TLS connections per blob (ranges fetched at once)
  } transfer;
  struct Admin {
    std::string socket_path;             // "" = <runtime dir>/admin.sock
    std::string group;                   // "" = the daemon's primary group
    std::uint32_t mode = 0660;
  } admin;
  struct Metrics {
    bool enabled = false;
    std::string address = "127.0.0.1";
    std::uint16_t port = 9464;
  } metrics;
  struct Logging {
    std::string level = "info";
    Millis rate_limit_interval{10000};
    std::uint32_t rate_limit_burst = 5;
  } logging;
  // Not keys: the files the loader read, in order (empty = embedded defaults only).
  std::vector<std::string> source_files;
};

// Where slimcached and `slimctl config check` look when no file is given (used if it exists).
inline constexpr std::string_view k_default_config_file = "/etc/slimcache/slimcached.toml";

// Where a value or an error comes from. line/column are 1-based, 0 when unknown.
struct ConfigError {
  std::string file;      // "" for the embedded defaults or a whole-config check
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string key;       // dotted key path, "" for a file-level error
  std::string message;
  // "file:line:column: key: message" (parts that are unknown are left out).
  [[nodiscard]] std::string to_string() const;
};
using ConfigErrors = std::vector<ConfigError>;

// ---------------------------------------------------------------- schema
enum class FieldKind {
  k_string, k_name, k_path, k_host, k_enum, k_enum_list, k_host_port_list, k_path_list,
  k_bool, k_integer, k_port, k_mode, k_float, k_bytes, k_duration,
};
enum class Reload { k_live, k_restart };

using FieldRef = std::variant<std::string*, std::vector<std::string>*, bool*, std::uint16_t*,
                              std::uint32_t*, std::uint64_t*, double*, Millis*>;

struct FieldSpec {
  std::string_view key;                  // "gossip.probe_interval"
  FieldKind kind;
  Reload reload;
  double min = 0;                        // bounds: value, bytes, milliseconds or list length
  double max = 0;
  std::vector<std::string_view> choices; // k_enum, k_enum_list
  std::string_view automatic;            // what an empty/absent value means, "" if n/a
  std::string_view help;
  std::function<FieldRef(DaemonConfig&)> ref;
};

// Every key, in documentation order.
[[nodiscard]] const std::vector<FieldSpec>& daemon_config_schema();
// A field's value as TOML ("1s", "4GiB", 0o660, ["a"]). Secrets are never rendered.
[[nodiscard]] std::string render_value(const FieldSpec& spec, const DaemonConfig& config);
// The whole config as TOML (format k_toml) or JSON (k_json), every key.
enum class Format { k_toml, k_json };
[[nodiscard]] std::string format_config(const DaemonConfig& config, Format format);

// The commented example file (config/slimcached.example.toml is this text) and the key
// reference table of docs/configuration.md (Markdown).
[[nodiscard]] std::string format_example();
[[nodiscard]] std::string format_reference_markdown();
// "between 1s and 1m", "one of ..." for a field; "" when unbounded.
[[nodiscard]] std::string describe_bounds(const FieldSpec& spec);

// Parsing helpers, exposed for the CLI and tests.
[[nodiscard]] Expected<std::uint64_t, std::string> parse_bytes(std::string_view text);  // "4GiB"
[[nodiscard]] Expected<Millis, std::string> parse_duration(std::string_view text);      // "1m30s"
[[nodiscard]] std::string format_bytes_value(std::uint64_t bytes);
[[nodiscard]] std::string format_duration_value(Millis d);

// ---------------------------------------------------------------- loading
// What automatic values are resolved from. current() reads the process environment.
struct Environment {
  std::string hostname = "localhost";
  bool is_root = false;
  std::map<std::string, std::string> vars;  // STATE_DIRECTORY, RUNTIME_DIRECTORY, HOME, XDG_*
  [[nodiscard]] static Environment current();
};

struct ConfigSource {
  std::string name;  // the file name used in errors
  std::string text;  // TOML
};

struct LoadOptions {
  std::string config_file;    // "" = embedded defaults only
  std::string drop_in_dir;    // "" = <dir of config_file>/config.d if it exists
  Environment environment = Environment::current();
};

// Reads the files and parses them in order.
[[nodiscard]] Expected<DaemonConfig, ConfigErrors> load_daemon_config(const LoadOptions& options);
// The same from in-memory sources (tests); secret files are still read from disk.
[[nodiscard]] Expected<DaemonConfig, ConfigErrors> parse_daemon_config(
    const std::vector<ConfigSource>& sources, const Environment& environment);

// ---------------------------------------------------------------- reload (SIGHUP)
struct ConfigChange {
  std::string key;
  std::string old_value;
  std::string new_value;
};
struct ReloadPlan {
  bool accepted = false;                 // false: keep the running config entirely
  ConfigErrors errors;                   // why it was rejected
  std::vector<ConfigChange> live;        // apply now
  std::vector<ConfigChange> restart;     // take effect after a restart; kept as running
};
// Pure: compares the running config with a freshly loaded candidate.
[[nodiscard]] ReloadPlan plan_reload(const DaemonConfig& running,
                                     const Expected<DaemonConfig, ConfigErrors>& candidate);
// Pure: the config to run after an accepted reload: the live keys (and the secrets and
// source files) from `next`, every restart-only key still from `running`.
[[nodiscard]] DaemonConfig apply_live(const DaemonConfig& running, const DaemonConfig& next);

}  // namespace slimcache::config
