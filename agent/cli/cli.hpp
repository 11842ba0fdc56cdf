#pragma once
// slimctl's command groups. Each group adds its subcommands to the CLI11 app; a command's
// callback stores its exit code in Context::exit_code.
//
// Exit codes scripts can rely on (also in docs/slimctl.md):
//   0 success, 1 the operation failed, 2 bad input (file, flag or value),
//   3 the daemon is not running or not reachable, 4 permission denied.
#include <CLI/CLI.hpp>

namespace slimcache::agent::cli {

enum ExitCode : int {
  k_exit_ok = 0,
  k_exit_failure = 1,
  k_exit_bad_input = 2,
  k_exit_no_daemon = 3,
  k_exit_permission = 4,
};

struct Context {
  int exit_code = k_exit_ok;
};

void add_solver_commands(CLI::App& app, Context& ctx);  // instance, solve  (cmd_solve.cpp)
void add_replay_command(CLI::App& app, Context& ctx);   // replay           (cmd_replay.cpp)
void add_sim_command(CLI::App& app, Context& ctx);      // sim              (cmd_sim.cpp)
void add_config_command(CLI::App& app, Context& ctx);   // config check     (cmd_config.cpp)
void add_daemon_commands(CLI::App& app, Context& ctx);  // status, reload, stats (cmd_daemon.cpp)
void add_cache_commands(CLI::App& app, Context& ctx);   // cache, import, model (cmd_cache.cpp)
void add_cluster_commands(CLI::App& app, Context& ctx); // members, keys     (cmd_cluster.cpp)
void add_placement_command(CLI::App& app, Context& ctx); // placement      (cmd_placement.cpp)
void add_transfers_command(CLI::App& app, Context& ctx); // transfers      (cmd_transfers.cpp)
void add_demo_command(CLI::App& app, Context& ctx);     // demo             (cmd_demo.cpp)

}  // namespace slimcache::agent::cli
