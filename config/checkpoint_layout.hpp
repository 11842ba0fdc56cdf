#pragma once
// Recognises the routed-expert tensors of a Mixture-of-Experts checkpoint by their names:
//   Mixtral            model.layers.{l}.block_sparse_moe.experts.{e}.w1|w3|w2.weight
//   Qwen2/3-MoE, OLMoE, DeepSeek-V2/V3
//                      model.layers.{l}.mlp.experts.{e}.gate_proj|up_proj|down_proj.weight
//                      (+ .weight_scale_inv for DeepSeek-V3's FP8 blocks)
//   Switch (T5)        {encoder,decoder}.block.{b}.layer.{i}.mlp.experts.expert_{e}.wi|wo.weight
// Shared experts, routers, attention and dense layers are not routed experts and are ignored.
// MoE layers are numbered 0.. in model order (DeepSeek's leading dense layers are skipped).
//
// A layout is complete when every (layer, expert) has all of its matrices (gate, up, down;
// or wi, wo), every MoE layer has experts 0..E-1 and all layers have the same E.
// Pure string logic; thread-safe.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "solver/expected.hpp"

namespace slimcache::config {

enum class ExpertRole { k_gate, k_up, k_down, k_wi, k_wo, k_gate_scale, k_up_scale, k_down_scale };
[[nodiscard]] std::string_view role_name(ExpertRole role);

enum class NamingScheme { k_mixtral, k_hf_moe, k_switch };
[[nodiscard]] std::string_view scheme_name(NamingScheme scheme);

struct ExpertTensorName {
  NamingScheme scheme;
  std::string stack;          // "model", "encoder" or "decoder"
  std::uint32_t model_layer;  // the model's own layer (block) number
  std::uint32_t expert;
  ExpertRole role;
};

// nullopt for every tensor that is not a routed expert's.
[[nodiscard]] std::optional<ExpertTensorName> parse_expert_tensor_name(std::string_view name);

struct ExpertTensors {
  std::uint32_t layer = 0;        // MoE layer index, 0-based in model order
  std::uint32_t model_layer = 0;
  std::uint32_t expert = 0;
  std::map<ExpertRole, std::string> tensors;  // role -> tensor name
};

struct CheckpointLayout {
  NamingScheme scheme = NamingScheme::k_hf_moe;
  std::uint32_t layers = 0;
  std::uint32_t experts_per_layer = 0;
  std::vector<ExpertTensors> experts;  // layer-major, expert order
};

// Groups the names into a complete layout, or says what is missing or inconsistent.
[[nodiscard]] Expected<CheckpointLayout, std::string> recognize_layout(const std::vector<std::string>& tensor_names);

}  // namespace slimcache::config
