// slimctl commands about the cluster: members, keys list|install|use|remove.
#include <iostream>

#include "agent/cli/cli.hpp"
#include "agent/cli/daemon_client.hpp"
#include "agent/cli/table.hpp"

namespace slimcache::agent::cli {

void add_cluster_commands(CLI::App& app, Context& ctx) {
  auto members_opts = std::make_shared<DaemonOptions>();
  auto* members = app.add_subcommand("members", "List the cluster's members as this node sees them");
  add_daemon_options(*members, *members_opts);
  members->callback([members_opts, &ctx] {
    auto r = call_daemon(*members_opts, ctx, "members");
    if (!r) return;
    if (members_opts->json) {
      std::cout << r->dump(2) << "\n";
      return;
    }
    Table t({"name", "address", "state", "incarnation", "rtt", "disk budget"});
    for (const auto& m : (*r)["members"]) {
      const std::string rtt = m.contains("rtt_ms") ? format_seconds(m["rtt_ms"].get<double>() / 1000) : "-";
      const std::string disk = m.contains("budgets") && m["budgets"].is_object()
                                   ? format_bytes(m["budgets"].value("disk_bytes", 0.0))
                                   : "-";
      t.add_row({m["name"].get<std::string>(), m["address"].get<std::string>(), m["state"].get<std::string>(),
                 std::to_string(m["incarnation"].get<int>()), rtt, disk});
    }
    t.print(std::cout);
  });

  auto* keys = app.add_subcommand("keys", "The cluster keyring: list, install, use, remove (rotation without downtime)");
  keys->require_subcommand(1);
  auto list_opts = std::make_shared<DaemonOptions>();
  auto* list = keys->add_subcommand("list", "Fingerprints of the installed keys, primary first");
  add_daemon_options(*list, *list_opts);
  list->callback([list_opts, &ctx] {
    auto r = call_daemon(*list_opts, ctx, "keys.list");
    if (!r) return;
    if (list_opts->json) {
      std::cout << r->dump(2) << "\n";
      return;
    }
    Table t({"fingerprint", "primary"});
    for (const auto& k : (*r)["keys"])
      t.add_row({k["fingerprint"].get<std::string>(), k["primary"].get<bool>() ? "yes" : ""});
    t.print(std::cout);
    if ((*r)["keys"].empty()) std::cout << "no keys: gossip is not encrypted\n";
  });
  for (const auto& [name, help] : {std::pair<std::string, std::string>{"install", "Add a key that opens packets"},
                                   {"use", "Make an installed key the one that seals"},
                                   {"remove", "Remove a key that is not the primary"}}) {
    struct KeyArgs {
      DaemonOptions daemon;
      std::string key;
    };
    auto args = std::make_shared<KeyArgs>();
    auto* sub = keys->add_subcommand(name, help + " (base64 AES-256 key, e.g. from `head -c32 /dev/urandom | base64`)");
    add_daemon_options(*sub, args->daemon);
    sub->add_option("key", args->key, "The key, base64")->required();
    const std::string cmd = "keys." + name;
    sub->callback([args, &ctx, cmd] {
      auto r = call_daemon(args->daemon, ctx, cmd, {{"key", args->key}});
      if (!r) return;
      if (args->daemon.json) {
        std::cout << r->dump(2) << "\n";
      } else {
        std::cout << (*r)["done"].get<std::string>() << ": key " << (*r)["fingerprint"].get<std::string>() << "\n";
      }
    });
  }
}

}  // namespace slimcache::agent::cli
