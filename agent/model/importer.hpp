#pragma once
// Import of a Hugging Face safetensors checkpoint: every routed expert becomes one blob
// (agent/exec/expert_payload.hpp) handed to a store callback, layer by layer.
//
//   plan_import()  reads config.json (model type, num_experts_per_tok), the shard index
//                  (model.safetensors.index.json) or the single model.safetensors, every
//                  needed shard header, and recognises the layout (config/checkpoint_layout.hpp).
//                  It checks that every expert matrix has the expected shape
//                  (gate/up [ffn, hidden], down [hidden, ffn]) and one common dtype
//                  (F32, BF16 or F16), and that its bytes lie inside its shard.
//   run_import()   reads each expert's matrices (pread), encodes the payload, calls `store`.
//   run_import_batched()  the same, handing `store` batches of up to batching.max_experts
//                  experts (or max_bytes of payload), so the store can make a whole batch
//                  durable at once (CacheManager::store_many); a failed batch stored nothing.
// Failure: a message naming the file and tensor. Nothing partial: run_import calls `remove`
// for every expert it stored when a later one fails. Progress: `progress(done, total)`
// after each stored expert (batched: after each batch).
// Threads: blocking file I/O; run it off the daemon's io_context.
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>

#include "agent/model/model_manifest.hpp"
#include "config/checkpoint_layout.hpp"
#include "config/safetensors.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::model {

struct ImportOptions {
  std::string model_dir;
  std::string model_id;      // "" = config.json's model_type, else the directory name
  std::uint32_t top_k = 0;   // 0 = config.json's num_experts_per_tok
};

struct ImportPlan {
  std::string model_dir;
  ModelManifest manifest;
  config::CheckpointLayout layout;
  std::map<std::string, std::string> tensor_file;               // tensor -> shard path
  std::map<std::string, config::SafetensorsHeader> headers;     // shard path -> header
};

struct ImportReport {
  std::uint64_t experts = 0;
  std::uint64_t bytes = 0;
};

using StoreExpert = std::function<Expected<void, std::string>(std::uint32_t layer, std::uint32_t expert,
                                                              std::span<const std::byte> payload)>;
using RemoveExpert = std::function<void(std::uint32_t layer, std::uint32_t expert)>;
using ImportProgress = std::function<void(std::uint64_t done, std::uint64_t total)>;

struct ExpertBlob {
  std::uint32_t layer = 0;
  std::uint32_t expert = 0;
  std::span<const std::byte> payload;
};
using StoreExperts = std::function<Expected<void, std::string>(std::span<const ExpertBlob> batch)>;
struct ImportBatching {
  std::size_t max_experts = 128;
  std::uint64_t max_bytes = 64ull << 20;
};

[[nodiscard]] Expected<ImportPlan, std::string> plan_import(const ImportOptions& options);
[[nodiscard]] Expected<ImportReport, std::string> run_import(const ImportPlan& plan, const StoreExpert& store,
                                                             const RemoveExpert& remove,
                                                             const ImportProgress& progress = {});
[[nodiscard]] Expected<ImportReport, std::string> run_import_batched(const ImportPlan& plan, const StoreExperts& store,
                                                                     const RemoveExpert& remove,
                                                                     const ImportProgress& progress = {},
                                                                     ImportBatching batching = {});

}  // namespace slimcache::agent::model
