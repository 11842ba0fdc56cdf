// slimctl commands for the daemon's expert cache and model: cache ls|pin|unpin|evict,
// import, model.
#include <filesystem>
#include <iostream>

#include "agent/cli/cli.hpp"
#include "agent/cli/daemon_client.hpp"
#include "agent/cli/table.hpp"

namespace slimcache::agent::cli {

namespace {

struct ExpertArgs {
  DaemonOptions daemon;
  std::uint32_t layer = 0;
  std::uint32_t expert = 0;
};

void add_expert_command(CLI::App& parent, Context& ctx, const std::string& name, const std::string& help,
                        const std::string& cmd) {
  auto args = std::make_shared<ExpertArgs>();
  auto* sub = parent.add_subcommand(name, help);
  add_daemon_options(*sub, args->daemon);
  sub->add_option("layer", args->layer, "MoE layer (0-based)")->required();
  sub->add_option("expert", args->expert, "Expert within the layer (0-based)")->required();
  sub->callback([args, &ctx, cmd] {
    auto r = call_daemon(args->daemon, ctx, cmd, {{"layer", args->layer}, {"expert", args->expert}});
    if (!r) return;
    if (args->daemon.json) {
      std::cout << r->dump(2) << "\n";
    } else {
      std::cout << cmd.substr(6) << ": layer " << args->layer << " expert " << args->expert << "\n";
    }
  });
}

}  // namespace

void add_cache_commands(CLI::App& app, Context& ctx) {
  auto* cache = app.add_subcommand("cache", "The daemon's expert cache: list, pin, unpin, evict");
  cache->require_subcommand(1);

  auto ls_opts = std::make_shared<DaemonOptions>();
  auto* ls = cache->add_subcommand("ls", "List the experts on disk and in memory");
  add_daemon_options(*ls, *ls_opts);
  ls->callback([ls_opts, &ctx] {
    auto r = call_daemon(*ls_opts, ctx, "cache.ls");
    if (!r) return;
    if (ls_opts->json) {
      std::cout << r->dump(2) << "\n";
      return;
    }
    Table t({"layer", "expert", "size", "memory", "pins", "sha256"});
    for (const auto& e : (*r)["experts"])
      t.add_row({std::to_string(e["layer"].get<int>()), std::to_string(e["expert"].get<int>()),
                 format_bytes(e["bytes"].get<double>()), e["resident"].get<bool>() ? "resident" : "-",
                 std::to_string(e["pins"].get<int>()), e["sha256"].get<std::string>().substr(0, 16)});
    t.print(std::cout);
    std::cout << (*r)["experts"].size() << " experts of " << (*r)["model"].get<std::string>() << ", disk "
              << format_bytes((*r)["disk_used_bytes"].get<double>()) << " of "
              << format_bytes((*r)["disk_budget_bytes"].get<double>()) << ", memory slots "
              << (*r)["memory_slots"].get<int>() - (*r)["memory_free_slots"].get<int>() << "/"
              << (*r)["memory_slots"].get<int>() << "\n";
    if (!(*r)["quarantined"].empty()) {
      std::cout << (*r)["quarantined"].size() << " quarantined blob(s):\n";
      for (const auto& q : (*r)["quarantined"])
        std::cout << "  " << q["file"].get<std::string>() << ": " << q["reason"].get<std::string>() << "\n";
    }
  });
  add_expert_command(*cache, ctx, "pin", "Load an expert into memory and keep it there", "cache.pin");
  add_expert_command(*cache, ctx, "unpin", "Let an expert pinned with `cache pin` be evicted again", "cache.unpin");
  add_expert_command(*cache, ctx, "evict", "Drop an expert from memory (it stays on disk)", "cache.evict");

  struct ImportArgs {
    DaemonOptions daemon;
    std::string model_dir;
    std::string model_id;
    std::uint32_t top_k = 0;
  };
  auto import_args = std::make_shared<ImportArgs>();
  import_args->daemon.timeout_s = 600;
  auto* import = app.add_subcommand(
      "import", "Import a Hugging Face safetensors MoE checkpoint into the daemon's cache (one blob per expert)");
  add_daemon_options(*import, import_args->daemon);
  import->add_option("--model-dir", import_args->model_dir, "Checkpoint directory (config.json and *.safetensors)")
      ->required();
  import->add_option("--model-id", import_args->model_id, "Model name (default: config.json's model_type)");
  import->add_option("--top-k", import_args->top_k, "Experts per token (default: config.json's num_experts_per_tok)");
  import->callback([import_args, &ctx] {
    std::error_code ec;
    const auto dir = std::filesystem::absolute(import_args->model_dir, ec).string();
    nlohmann::json args{{"model_dir", dir}};
    if (!import_args->model_id.empty()) args["model_id"] = import_args->model_id;
    if (import_args->top_k > 0) args["top_k"] = import_args->top_k;
    auto r = call_daemon(import_args->daemon, ctx, "import", args);
    if (!r) return;
    if (import_args->daemon.json) {
      std::cout << r->dump(2) << "\n";
      return;
    }
    std::cout << "imported " << (*r)["experts"].get<int>() << " experts of " << (*r)["model"].get<std::string>()
              << " (" << (*r)["layers"].get<int>() << " layers x " << (*r)["experts_per_layer"].get<int>()
              << " experts, top-" << (*r)["top_k"].get<int>() << ", " << format_bytes((*r)["bytes"].get<double>())
              << ")\n";
  });

  auto model_opts = std::make_shared<DaemonOptions>();
  auto* model = app.add_subcommand("model", "Show the model this node serves");
  add_daemon_options(*model, *model_opts);
  model->callback([model_opts, &ctx] {
    auto r = call_daemon(*model_opts, ctx, "model");
    if (!r) return;
    if (model_opts->json) {
      std::cout << r->dump(2) << "\n";
    } else if ((*r)["model"].is_null()) {
      std::cout << "no model yet: import one with `slimctl import --model-dir DIR`\n";
    } else {
      Table t({"key", "value"}, Table::Numbers::k_left_aligned);
      for (const auto& [k, v] : r->items()) t.add_row({k, v.is_string() ? v.get<std::string>() : v.dump()});
      t.print(std::cout);
    }
  });
}

}  // namespace slimcache::agent::cli
