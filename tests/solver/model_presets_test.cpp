#include "solver/model_presets.hpp"

#include <gtest/gtest.h>

namespace slimcache::solver {
namespace {

TEST(ModelPresets, ListsTheSixShapesOfTheModel) {
  EXPECT_EQ(model_presets().size(), 6u);
  for (const auto& m : model_presets()) {
    EXPECT_GE(m.experts, m.top_k) << m.name;
    EXPECT_GT(m.layers, 0u) << m.name;
  }
}

TEST(ModelPresets, ExpertSizesMatchTheTableInBf16) {
  // MODEL.md section 7: OLMoE ~12.6 MB, Mixtral ~352 MB, Switch ~9.4 MB, DeepSeek-V3 ~88 MB.
  EXPECT_EQ(find_model_preset("olmoe-1b-7b")->expert_bytes(), 3ull * 2048 * 1024 * 2);
  EXPECT_NEAR(static_cast<double>(find_model_preset("mixtral-8x7b")->expert_bytes()) / 1e6, 352.3, 0.5);
  EXPECT_NEAR(static_cast<double>(find_model_preset("switch-base-128")->expert_bytes()) / 1e6, 9.4, 0.1);
  EXPECT_NEAR(static_cast<double>(find_model_preset("deepseek-v3")->expert_bytes()) / 1e6, 88.1, 0.1);
}

TEST(ModelPresets, UnknownNameIsNotFound) { EXPECT_FALSE(find_model_preset("gpt-5").has_value()); }

}  // namespace
}  // namespace slimcache::solver
