// slimctl transfers [--json]: the daemon's peer expert transfers (admin command "transfers").
#include <iostream>

#include "agent/cli/cli.hpp"
#include "agent/cli/daemon_client.hpp"
#include "agent/cli/table.hpp"

namespace slimcache::agent::cli {

void add_transfers_command(CLI::App& app, Context& ctx) {
  auto opts = std::make_shared<DaemonOptions>();
  auto* cmd = app.add_subcommand("transfers", "Peer expert transfers: in flight, queued, done, failed, bytes, rate, cipher");
  add_daemon_options(*cmd, *opts);
  cmd->callback([opts, &ctx] {
    auto r = call_daemon(*opts, ctx, "transfers");
    if (!r) return;
    if (opts->json) {
      std::cout << r->dump(2) << "\n";
      return;
    }
    if (!r->value("enabled", false)) {
      std::cout << "transfers are disabled on this node: " << r->value("reason", std::string("no key")) << "\n";
      return;
    }
    auto num = [&](const char* key) { return (*r)[key].get<double>(); };
    Table t({"port", "in flight", "queued", "completed", "failed", "verify failures", "received", "sent", "rate",
             "cipher suite"});
    t.add_row({std::to_string((*r)["port"].get<int>()), std::to_string((*r)["in_flight"].get<std::uint64_t>()),
               std::to_string((*r)["queued"].get<std::uint64_t>()), std::to_string((*r)["completed"].get<std::uint64_t>()),
               std::to_string((*r)["failed"].get<std::uint64_t>()),
               std::to_string((*r)["verify_failures"].get<std::uint64_t>()), format_bytes(num("bytes_received")),
               format_bytes(num("bytes_sent")), format_bytes(num("rate_bytes_per_s")) + "/s",
               (*r)["ciphersuite"].get<std::string>().empty() ? "-" : (*r)["ciphersuite"].get<std::string>()});
    t.print(std::cout);
    const auto& recent = (*r)["recent"];
    if (recent.empty()) return;
    std::cout << "\nrecent fetches (oldest first):\n";
    Table rt({"layer", "expert", "result", "bytes", "detail"});
    for (const auto& f : recent) {
      const bool ok = f["ok"].get<bool>();
      rt.add_row({std::to_string(f["layer"].get<std::uint32_t>()), std::to_string(f["expert"].get<std::uint32_t>()),
                  ok ? "ok" : "failed", ok ? format_bytes(f["bytes"].get<double>()) : "-",
                  ok ? (std::to_string(f["stripes"].get<std::uint64_t>()) + " connection(s)" +
                        (f["resumed_from"].get<std::uint64_t>() ? ", resumed" : ""))
                     : f["error"].get<std::string>()});
    }
    rt.print(std::cout);
  });
}

}  // namespace slimcache::agent::cli
