// Fuzz target: the daemon config parser (config/daemon_config.hpp parse_daemon_config) on
// arbitrary TOML text, with a fixed Environment (no process environment read).
// Invariants: no crash, every error names something (a message); a config that loads
// renders (format_config) to TOML that loads again to the same rendering.
#include <cstdint>
#include <cstdlib>
#include <string>

#include "config/daemon_config.hpp"

using namespace slimcache::config;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16 * 1024) return 0;
  Environment env;
  env.hostname = "fuzz-host";
  env.is_root = false;
  env.vars = {{"HOME", "/nonexistent/home"}, {"STATE_DIRECTORY", "/nonexistent/state"},
              {"RUNTIME_DIRECTORY", "/nonexistent/run"}};
  const std::vector<ConfigSource> sources{{"fuzz.toml", std::string(reinterpret_cast<const char*>(data), size)}};
  auto config = parse_daemon_config(sources, env);
  if (!config) {
    if (config.error().empty()) std::abort();
    for (const auto& e : config.error())
      if (e.message.empty()) std::abort();
    return 0;
  }
  // Secret files were read from disk: the rendering leaves their contents out, so only
  // configs without secrets are compared.
  if (!config->security.keyring_files.empty() || !config->security.tls_psk_file.empty()) return 0;
  const std::string once = format_config(*config, Format::k_toml);
  auto again = parse_daemon_config({{"rendered.toml", once}}, env);
  if (!again) std::abort();
  if (format_config(*again, Format::k_toml) != once) std::abort();
  return 0;
}
