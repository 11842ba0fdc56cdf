#pragma once
// Public shapes of the MoE models used for benchmarks (MODEL.md section 7).
// Expert sizes are bf16: a SwiGLU expert has three matrices of hidden x ffn
// (Switch-style experts two), two bytes per weight.
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

namespace slimcache::solver {

struct ModelShape {
  std::string_view name;         // preset name used on the command line
  std::string_view display;      // the model's own name
  std::uint32_t layers = 0;      // MoE layers L
  std::uint32_t experts = 0;     // routed experts per layer E
  std::uint32_t top_k = 0;       // K
  std::uint32_t hidden = 0;      // hidden size
  std::uint32_t ffn = 0;         // expert FFN width
  std::uint32_t matrices = 3;    // 3 for SwiGLU (gate, up, down), 2 for Switch

  [[nodiscard]] std::uint64_t expert_bytes() const {
    return std::uint64_t{matrices} * hidden * ffn * 2;
  }
  [[nodiscard]] std::uint64_t hidden_state_bytes() const { return std::uint64_t{hidden} * 2; }
};

// All presets, in the order of MODEL.md section 7.
[[nodiscard]] std::span<const ModelShape> model_presets();
// The preset with this name, or nullopt.
[[nodiscard]] std::optional<ModelShape> find_model_preset(std::string_view name);

}  // namespace slimcache::solver
