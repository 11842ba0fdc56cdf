// slimctl: the local admin CLI. Thin main: every command lives in agent/cli/.
#include <iostream>

#include "agent/cli/cli.hpp"
#include "agent/version.hpp"

int main(int argc, char** argv) {
  using namespace slimcache::agent;
  CLI::App app{"slimctl: administer a slimcache node and run the placement, paging and gossip tools"};
  app.set_version_flag("--version", std::string(k_version));
  app.require_subcommand(1);
  cli::Context ctx;
  cli::add_solver_commands(app, ctx);
  cli::add_replay_command(app, ctx);
  cli::add_sim_command(app, ctx);
  cli::add_config_command(app, ctx);
  cli::add_daemon_commands(app, ctx);
  cli::add_cache_commands(app, ctx);
  cli::add_cluster_commands(app, ctx);
  cli::add_placement_command(app, ctx);
  cli::add_transfers_command(app, ctx);
  cli::add_demo_command(app, ctx);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : cli::k_exit_bad_input;
  }
  return ctx.exit_code;
}
