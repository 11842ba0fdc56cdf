#include "agent/cli/cli.hpp"

namespace slimcache::agent::cli {

// Scaffolding: issue 3 adds the commands of this group.
void add_solver_commands(CLI::App& /*app*/, Context& /*ctx*/) {}

}  // namespace slimcache::agent::cli
