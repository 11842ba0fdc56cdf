#include "solver/model_presets.hpp"

#include <array>

namespace slimcache::solver {

namespace {
constexpr std::array<ModelShape, 6> k_presets{{
    {"switch-base-128", "Switch-Base-128", 12, 128, 1, 768, 3072, 2},
    {"mixtral-8x7b", "Mixtral-8x7B", 32, 8, 2, 4096, 14336, 3},
    {"olmoe-1b-7b", "OLMoE-1B-7B", 16, 64, 8, 2048, 1024, 3},
    {"qwen3-30b-a3b", "Qwen3-30B-A3B", 48, 128, 8, 2048, 768, 3},
    {"deepseek-v2-lite", "DeepSeek-V2-Lite", 26, 64, 6, 2048, 1408, 3},
    {"deepseek-v3", "DeepSeek-V3", 58, 256, 8, 7168, 2048, 3},
}};
}  // namespace

std::span<const ModelShape> model_presets() { return k_presets; }

std::optional<ModelShape> find_model_preset(std::string_view name) {
  for (const auto& m : k_presets) {
    if (m.name == name) return m;
  }
  return std::nullopt;
}

}  // namespace slimcache::solver
