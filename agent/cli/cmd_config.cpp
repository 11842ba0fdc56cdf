#include "agent/cli/cli.hpp"

namespace slimcache::agent::cli {

// Scaffolding: issue 6 adds `slimctl config check`.
void add_config_command(CLI::App& /*app*/, Context& /*ctx*/) {}

}  // namespace slimcache::agent::cli
