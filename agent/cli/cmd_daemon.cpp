// slimctl commands answered by the running daemon: status, reload, stats.
#include <iostream>

#include "agent/cli/cli.hpp"
#include "agent/cli/daemon_client.hpp"
#include "agent/cli/table.hpp"

namespace slimcache::agent::cli {

namespace {

void print_status(const nlohmann::json& s) {
  Table t({"key", "value"}, Table::Numbers::k_left_aligned);
  t.add_row({"node", s.value("node", "")});
  t.add_row({"state", s.value("state", "")});
  t.add_row({"version", s.value("version", "")});
  t.add_row({"pid", std::to_string(s.value("pid", 0))});
  t.add_row({"uptime", format_seconds(s.value("uptime_s", 0.0))});
  t.add_row({"state dir", s.value("state_dir", "")});
  t.add_row({"admin socket", s.value("admin_socket", "")});
  t.add_row({"metrics", s.value("metrics", "")});
  if (s.contains("budgets")) {
    t.add_row({"disk budget", format_bytes(s["budgets"].value("disk_bytes", 0.0))});
    t.add_row({"memory budget", format_bytes(s["budgets"].value("memory_bytes", 0.0))});
  }
  if (s.contains("members")) t.add_row({"members", s["members"].dump()});
  t.print(std::cout);
}

}  // namespace

void add_daemon_commands(CLI::App& app, Context& ctx) {
  auto status_opts = std::make_shared<DaemonOptions>();
  auto* status = app.add_subcommand("status", "Show the running daemon's state (exit 3 if it is not running)");
  add_daemon_options(*status, *status_opts);
  status->callback([status_opts, &ctx] {
    auto r = call_daemon(*status_opts, ctx, "status");
    if (!r) return;
    if (status_opts->json) {
      std::cout << r->dump(2) << "\n";
    } else {
      print_status(*r);
    }
  });

  auto reload_opts = std::make_shared<DaemonOptions>();
  auto* reload = app.add_subcommand("reload", "Make the daemon re-read its configuration (like SIGHUP)");
  add_daemon_options(*reload, *reload_opts);
  reload->callback([reload_opts, &ctx] {
    auto r = call_daemon(*reload_opts, ctx, "reload");
    if (!r) return;
    if (reload_opts->json) {
      std::cout << r->dump(2) << "\n";
      if (!r->value("accepted", false)) ctx.exit_code = k_exit_bad_input;
      return;
    }
    if (!r->value("accepted", false)) {
      std::cerr << "slimctl: the daemon rejected the new configuration and keeps the running one:\n";
      for (const auto& e : (*r)["errors"]) std::cerr << "  " << e.get<std::string>() << "\n";
      ctx.exit_code = k_exit_bad_input;
      return;
    }
    std::cout << "configuration reloaded: " << (*r)["live"].size() << " change(s) applied";
    if (!(*r)["restart"].empty()) std::cout << ", " << (*r)["restart"].size() << " need a restart";
    std::cout << "\n";
    for (const auto& c : (*r)["restart"]) std::cout << "  restart needed: " << c["key"].get<std::string>() << "\n";
  });

  auto stats_opts = std::make_shared<DaemonOptions>();
  auto* stats = app.add_subcommand("stats", "Print the daemon's metrics (Prometheus text, or --json)");
  add_daemon_options(*stats, *stats_opts);
  stats->callback([stats_opts, &ctx] {
    auto r = call_daemon(*stats_opts, ctx, "stats");
    if (!r) return;
    if (stats_opts->json) {
      std::cout << r->dump(2) << "\n";
    } else {
      std::cout << (*r)["prometheus"].get<std::string>();
    }
  });
}

}  // namespace slimcache::agent::cli
