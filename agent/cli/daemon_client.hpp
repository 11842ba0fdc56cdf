#pragma once
// Shared plumbing for slimctl commands that talk to a running slimcached.
//
// The socket is, in order: --socket, $SLIMCACHE_ADMIN_SOCKET, or admin.socket_path of the
// daemon's configuration (the default file if it exists, else embedded defaults).
// Errors are printed on stderr with the exit code scripts rely on (cli.hpp): 3 when the
// daemon is not running, 4 when refused, 1 for a failed operation, 2 for bad arguments.
// Progress frames are drawn on stderr when it is a terminal.
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/cli/cli.hpp"

namespace slimcache::agent::cli {

struct DaemonOptions {
  std::string socket;
  std::string config_file;
  double timeout_s = 30;
  bool json = false;
};

// Adds --socket, --config, --timeout and --json to a daemon-facing command.
void add_daemon_options(CLI::App& command, DaemonOptions& options);

// The resolved socket path.
[[nodiscard]] std::string admin_socket_path(const DaemonOptions& options);

// Calls the daemon. On failure prints the error, sets ctx.exit_code and returns nullopt.
[[nodiscard]] std::optional<nlohmann::json> call_daemon(const DaemonOptions& options, Context& ctx,
                                                        const std::string& cmd,
                                                        const nlohmann::json& args = nlohmann::json::object());

}  // namespace slimcache::agent::cli
