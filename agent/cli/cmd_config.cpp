// slimctl config: check a daemon configuration, print the example file and the key reference.
//
//   slimctl config check [FILE] [--drop-in DIR] [--show] [--json]
//   slimctl config example            the commented example (config/slimcached.example.toml)
//   slimctl config reference          the key table of docs/configuration.md (Markdown)
//
// check: every error as "file:line:column: key.path: message" on stderr, exit 2 when there
// is any; exit 0 and a summary (or the full effective config with --show) when valid.
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "agent/cli/cli.hpp"
#include "config/daemon_config.hpp"

namespace slimcache::agent::cli {
namespace {

struct CheckOptions {
  std::string file;
  std::string drop_in;
  bool json = false;
  bool show = false;
};

std::string join(const std::vector<std::string>& items, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) out += (i ? sep : "") + items[i];
  return out;
}

void print_summary(const config::DaemonConfig& c, std::ostream& out) {
  char mode[16];
  std::snprintf(mode, sizeof mode, "0%o", static_cast<unsigned>(c.admin.mode));
  struct Rows {
    std::ostream& out;
    void add_row(const std::vector<std::string>& row) const {
      out << row[0] << std::string(row[0].size() < 11 ? 11 - row[0].size() : 1, ' ') << row[1] << "\n";
    }
  } table{out};
  table.add_row({"sources", c.source_files.empty() ? "embedded defaults" : join(c.source_files, ", ")});
  table.add_row({"node", c.node.name + " (" + join(c.node.roles, ", ") + ")"});
  table.add_row({"state", c.node.state_dir + " (experts in " + c.node.data_dir + ")"});
  table.add_row({"budgets", "disk " + config::format_bytes_value(c.budgets.disk) + ", memory " +
                                config::format_bytes_value(c.budgets.memory)});
  table.add_row({"network", c.network.bind_address + " gossip " + std::to_string(c.network.gossip_port) +
                                " transfer " + std::to_string(c.network.transfer_port) + " execution " +
                                std::to_string(c.network.execution_port)});
  table.add_row({"gossip", c.gossip.profile + " profile, probe " +
                               config::format_duration_value(c.gossip.timing.probe_interval) + ", gossip " +
                               config::format_duration_value(c.gossip.timing.gossip_interval) + " to " +
                               std::to_string(c.gossip.timing.gossip_fanout)});
  table.add_row({"cluster", (c.cluster.label.empty() ? std::string("no label") : "label \"" + c.cluster.label + "\"") +
                                ", " + std::to_string(c.cluster.seeds.size()) + " seeds"});
  table.add_row({"security", std::to_string(c.security.keyring_files.size()) + " keyring files, " +
                                 (c.security.tls_psk_file.empty() ? "no TLS PSK" : "TLS PSK from " + c.security.tls_psk_file)});
  table.add_row({"cache", "policy " + c.cache.policy + (c.cache.prefetch ? ", prefetch" : ", no prefetch")});
  table.add_row({"placement", c.placement.algorithm + ", epochs at most every " +
                                  config::format_duration_value(c.placement.min_epoch_interval)});
  table.add_row({"admin", c.admin.socket_path + " mode " + mode +
                              (c.admin.group.empty() ? std::string() : " group " + c.admin.group)});
  table.add_row({"metrics", c.metrics.enabled ? "http://" + c.metrics.address + ":" + std::to_string(c.metrics.port) + "/metrics"
                                              : std::string("off")});
  table.add_row({"logging", c.logging.level});
}

int run_check(const CheckOptions& opt) {
  config::LoadOptions load;
  load.config_file = opt.file;
  if (load.config_file.empty()) {
    std::error_code ec;
    if (std::filesystem::exists(config::k_default_config_file, ec))
      load.config_file = std::string(config::k_default_config_file);
  }
  load.drop_in_dir = opt.drop_in;
  auto result = config::load_daemon_config(load);

  if (opt.json) {
    nlohmann::ordered_json out;
    out["valid"] = result.has_value();
    out["errors"] = nlohmann::ordered_json::array();
    if (!result) {
      for (const auto& e : result.error())
        out["errors"].push_back({{"file", e.file}, {"line", e.line}, {"column", e.column},
                                 {"key", e.key}, {"message", e.message}, {"text", e.to_string()}});
    } else {
      out["sources"] = result->source_files;
      out["config"] = nlohmann::ordered_json::parse(config::format_config(*result, config::Format::k_json));
    }
    std::cout << out.dump(2) << "\n";
    return result ? k_exit_ok : k_exit_bad_input;
  }
  if (!result) {
    for (const auto& e : result.error()) std::cerr << e.to_string() << "\n";
    const std::size_t n = result.error().size();
    std::cerr << n << (n == 1 ? " error" : " errors") << ": the configuration is not valid\n";
    return k_exit_bad_input;
  }
  if (opt.show) {
    std::cout << config::format_config(*result, config::Format::k_toml);
  } else {
    std::cout << "configuration is valid\n";
    print_summary(*result, std::cout);
  }
  return k_exit_ok;
}

}  // namespace

void add_config_command(CLI::App& app, Context& ctx) {
  CLI::App* group = app.add_subcommand("config", "Check slimcached configuration files");
  group->require_subcommand(1);

  auto opt = std::make_shared<CheckOptions>();
  CLI::App* check = group->add_subcommand(
      "check", "Validate a configuration (default: " + std::string(config::k_default_config_file) +
                   " if it exists, else the embedded defaults) with its drop-in directory");
  check->add_option("file", opt->file, "Main configuration file (TOML)");
  check->add_option("--drop-in", opt->drop_in, "Drop-in directory (default: config.d next to FILE)");
  check->add_flag("--show", opt->show, "Print the full effective configuration (TOML) when valid");
  check->add_flag("--json", opt->json, "Machine-readable result: {valid, errors[], sources, config}");
  check->callback([opt, &ctx] { ctx.exit_code = run_check(*opt); });

  CLI::App* example = group->add_subcommand("example", "Print the commented example configuration");
  example->callback([&ctx] {
    std::cout << config::format_example();
    ctx.exit_code = k_exit_ok;
  });
  CLI::App* reference = group->add_subcommand("reference", "Print the key reference table (Markdown)");
  reference->callback([&ctx] {
    std::cout << config::format_reference_markdown();
    ctx.exit_code = k_exit_ok;
  });
}

}  // namespace slimcache::agent::cli
