// slimcached: the slimcache daemon. Thin main: parse flags, load the configuration, run
// the Daemon on one io_context. The one fatal path: log, tell systemd, exit non-zero.
//   exit 0 after a graceful stop, 1 on a runtime failure, 2 on a configuration error.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "agent/daemon/daemon.hpp"
#include "agent/version.hpp"

int main(int argc, char** argv) {
  using namespace slimcache;
  CLI::App app{"slimcached: the slimcache expert-cache daemon (see slimcached(8))"};
  app.set_version_flag("--version", std::string(agent::k_version));
  std::string config_file;
  std::string drop_in;
  std::string log_level;
  bool check_only = false;
  app.add_option("-c,--config", config_file,
                 "Configuration file (default: " + std::string(config::k_default_config_file) +
                     " if it exists, else embedded defaults: a single node on loopback)");
  app.add_option("--drop-in", drop_in, "Drop-in directory merged over the file (default: <config dir>/config.d)");
  app.add_option("--log-level", log_level, "Override logging.level: error, warning, notice, info, debug");
  app.add_flag("--check-config", check_only, "Validate the configuration and exit (0 valid, 2 invalid)");
  CLI11_PARSE(app, argc, argv);

  auto& log = platform::Logger::global();
  config::LoadOptions load;
  load.config_file = config_file;
  if (config_file.empty() && ::access(std::string(config::k_default_config_file).c_str(), F_OK) == 0)
    load.config_file = std::string(config::k_default_config_file);
  load.drop_in_dir = drop_in;
  auto notifier = platform::SystemdNotifier::from_environment();

  auto loaded = config::load_daemon_config(load);
  if (!loaded) {
    for (const auto& e : loaded.error()) {
      SLIM_LOG(log, platform::LogLevel::k_error) << e.to_string();
    }
    SLIM_LOG(log, platform::LogLevel::k_error) << "configuration invalid (" << loaded.error().size() << " errors)";
    (void)notifier.send("STATUS=configuration invalid\nERRNO=22");
    return 2;
  }
  if (check_only) {
    std::cout << "configuration valid\n";
    return 0;
  }
  config::DaemonConfig cfg = std::move(loaded).value();
  if (!log_level.empty()) {
    if (!platform::parse_log_level(log_level)) {
      SLIM_LOG(log, platform::LogLevel::k_error) << "--log-level: unknown level '" << log_level << "'";
      return 2;
    }
    cfg.logging.level = log_level;
  }

  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io(1);
  agent::Daemon daemon(io, std::move(cfg), load, {notifier, log, platform::SystemClock::instance()});
  if (auto started = daemon.start(); !started) {
    SLIM_LOG(log, platform::LogLevel::k_error) << "cannot start: " << started.error();
    (void)notifier.send("STATUS=failed to start: " + started.error() + "\nERRNO=5");
    return 1;
  }
  try {
    io.run();
  } catch (const std::exception& e) {
    SLIM_LOG(log, platform::LogLevel::k_error) << "fatal: " << e.what();
    (void)notifier.send(std::string("STATUS=fatal: ") + e.what() + "\nERRNO=5");
    return 1;
  }
  SLIM_LOG(log, platform::LogLevel::k_notice) << "stopped";
  return 0;
}
