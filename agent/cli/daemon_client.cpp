#include "agent/cli/daemon_client.hpp"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "agent/admin/admin_client.hpp"
#include "config/daemon_config.hpp"

namespace slimcache::agent::cli {

void add_daemon_options(CLI::App& command, DaemonOptions& options) {
  command.add_option("--socket", options.socket,
                     "Admin socket of the daemon (default: $SLIMCACHE_ADMIN_SOCKET or the daemon config's "
                     "admin.socket_path)");
  command.add_option("--config", options.config_file, "Daemon configuration to read the socket path from");
  command.add_option("--timeout", options.timeout_s, "Seconds to wait for an answer")->check(CLI::PositiveNumber);
  command.add_flag("--json", options.json, "Print the daemon's answer as JSON");
}

std::string admin_socket_path(const DaemonOptions& options) {
  if (!options.socket.empty()) return options.socket;
  if (const char* env = std::getenv("SLIMCACHE_ADMIN_SOCKET"); env != nullptr && *env != '\0') return env;
  config::LoadOptions load;
  load.config_file = options.config_file;
  if (load.config_file.empty() && ::access(std::string(config::k_default_config_file).c_str(), R_OK) == 0)
    load.config_file = std::string(config::k_default_config_file);
  if (auto cfg = config::load_daemon_config(load)) return cfg->admin.socket_path;
  // An unreadable config is reported by `slimctl config check`; fall back to the defaults.
  load.config_file.clear();
  if (auto cfg = config::load_daemon_config(load)) return cfg->admin.socket_path;
  return "/run/slimcache/admin.sock";
}

std::optional<nlohmann::json> call_daemon(const DaemonOptions& options, Context& ctx, const std::string& cmd,
                                          const nlohmann::json& args) {
  const bool tty = ::isatty(2) != 0;
  auto progress = [tty](const nlohmann::json& p) {
    if (!tty) return;
    const auto done = p.value("done", 0.0);
    const auto total = p.value("total", 0.0);
    std::cerr << "\r" << p.value("what", std::string("working")) << ": " << done;
    if (total > 0) std::cerr << "/" << total << " (" << static_cast<int>(100 * done / total) << "%)";
    std::cerr << "   " << std::flush;
  };
  admin::ClientOptions client{admin_socket_path(options),
                              std::chrono::milliseconds(static_cast<long>(options.timeout_s * 1000))};
  auto result = admin::call(client, cmd, args, progress);
  if (tty) std::cerr << "\r\033[K" << std::flush;
  if (result) return std::move(result).value();
  const auto& e = result.error();
  std::cerr << "slimctl: " << e.message << "\n";
  switch (e.code) {
    case admin::ErrorCode::k_unavailable:
    case admin::ErrorCode::k_timeout:
      ctx.exit_code = k_exit_no_daemon;
      break;
    case admin::ErrorCode::k_permission_denied:
      ctx.exit_code = k_exit_permission;
      break;
    case admin::ErrorCode::k_bad_arguments:
    case admin::ErrorCode::k_unknown_command:
    case admin::ErrorCode::k_bad_request:
      ctx.exit_code = k_exit_bad_input;
      break;
    default:
      ctx.exit_code = k_exit_failure;
  }
  return std::nullopt;
}

}  // namespace slimcache::agent::cli
