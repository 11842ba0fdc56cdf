#include "agent/cli/cli.hpp"

namespace slimcache::agent::cli {

// Scaffolding: issue 4 adds the commands of this group.
void add_replay_command(CLI::App& /*app*/, Context& /*ctx*/) {}

}  // namespace slimcache::agent::cli
