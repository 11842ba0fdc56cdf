// slimcached: the slimcache daemon. Thin main; the daemon itself lives in agent/.
#include <CLI/CLI.hpp>
#include <iostream>

#include "agent/version.hpp"

int main(int argc, char** argv) {
  CLI::App app{"slimcached: the slimcache expert-cache daemon"};
  app.set_version_flag("--version", std::string(slimcache::agent::k_version));
  CLI11_PARSE(app, argc, argv);
  std::cerr << "slimcached: the daemon is not implemented yet (issue 6)\n";
  return 1;
}
