#pragma once
// Writes Hugging Face style MoE checkpoints with the real tensor names of each family,
// scaled-down shapes and deterministic weights (byte i of tensor t = fixture_byte(t, i)):
// sharded (model.safetensors.index.json + N shards) or one model.safetensors. Used by the
// demo (a model to import without downloading one) and by the tests.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "config/safetensors.hpp"

namespace slimcache::agent::model {

enum class Family { k_mixtral, k_qwen3_moe, k_olmoe, k_deepseek_v3 };

struct CheckpointSpec {
  Family family = Family::k_olmoe;
  std::uint32_t layers = 2;
  std::uint32_t experts = 4;
  std::uint32_t top_k = 2;
  std::uint32_t hidden = 16;
  std::uint32_t ffn = 8;
  std::uint32_t shards = 1;  // 1: model.safetensors; more: an index and N shard files
  config::DType dtype = config::DType::k_bf16;
};

// The gate, up and down tensor names of one expert.
[[nodiscard]] std::vector<std::string> expert_tensor_names(const CheckpointSpec& spec, std::uint32_t model_layer,
                                                           std::uint32_t expert);
// The byte at `i` of tensor `name` (deterministic, differs between tensors).
[[nodiscard]] std::uint8_t fixture_byte(const std::string& name, std::uint64_t i);
// Writes the checkpoint into `dir` (created). Returns the experts' tensor names in
// (layer, expert, gate/up/down) order. Throws nothing; I/O errors surface on import.
std::vector<std::string> write_checkpoint(const std::filesystem::path& dir, const CheckpointSpec& spec);

}  // namespace slimcache::agent::model
