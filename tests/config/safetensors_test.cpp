#include "config/safetensors.hpp"

#include <gtest/gtest.h>

#include <cstring>

#include "config/checkpoint_layout.hpp"

namespace slimcache::config {
namespace {

std::vector<std::uint8_t> with_raw_header(const std::string& json, std::size_t data_bytes) {
  std::vector<std::uint8_t> out(8 + json.size() + data_bytes, 0);
  const std::uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(n >> (8 * i));
  std::memcpy(out.data() + 8, json.data(), json.size());
  return out;
}

TEST(Safetensors, EncodedHeaderParsesBack) {
  std::vector<TensorInfo> tensors{{"a", DType::k_bf16, {4, 8}, 0, 0}, {"b", DType::k_f32, {3}, 0, 0}};
  auto bytes = encode_safetensors_header(tensors, {{"format", "pt"}});
  bytes.resize(bytes.size() + 4 * 8 * 2 + 3 * 4);
  auto sut = parse_safetensors_header(bytes, bytes.size());
  ASSERT_TRUE(sut.has_value()) << sut.error().to_string();
  ASSERT_EQ(sut->tensors.size(), 2u);
  EXPECT_EQ(sut->find("a")->bytes(), 64u);
  EXPECT_EQ(sut->find("b")->begin, 64u);
  EXPECT_EQ(sut->data_offset % 8, 0u);
  EXPECT_EQ(sut->metadata.at("format"), "pt");
}

TEST(Safetensors, RejectsHostileHeaders) {
  struct Case {
    std::string json;
    std::size_t data;
    std::string expect;
  };
  const std::vector<Case> cases{
      {R"({"t":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})", 3, "out of bounds"},
      {R"({"t":{"dtype":"BF16","shape":[2],"data_offsets":[0,6]}})", 8, "need 4"},
      {R"({"t":{"dtype":"Q4","shape":[2],"data_offsets":[0,4]}})", 4, "unknown dtype"},
      {R"({"t":{"dtype":"BF16","shape":[-2],"data_offsets":[0,4]}})", 4, "non-negative"},
      {R"({"t":{"dtype":"BF16","shape":[2],"data_offsets":[4,0]}})", 4, "begin after end"},
      {R"({"t":{"dtype":"U8","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}})", 4, "overflow"},
      {R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})", 6, "overlap"},
      {R"([1,2])", 0, "not a JSON object"},
      {R"({"t":{"dtype":"U8","shape":[4]}})", 4, "data_offsets"},
  };
  for (const auto& c : cases) {
    const auto bytes = with_raw_header(c.json, c.data);
    auto sut = parse_safetensors_header(bytes, bytes.size());
    ASSERT_FALSE(sut.has_value()) << c.json;
    EXPECT_NE(sut.error().message.find(c.expect), std::string::npos) << c.json << " -> " << sut.error().message;
  }
}

TEST(Safetensors, RejectsALengthPastTheFile) {
  std::vector<std::uint8_t> bytes(16, 0);
  bytes[0] = 100;
  auto sut = parse_safetensors_header(bytes, bytes.size());
  ASSERT_FALSE(sut.has_value());
  EXPECT_NE(sut.error().message.find("past the end"), std::string::npos);
  EXPECT_FALSE(parse_safetensors_header(std::span<const std::uint8_t>(bytes.data(), 4), 4).has_value());
}

TEST(SafetensorsIndex, ReadsTheWeightMapAndRefusesPaths) {
  auto sut = parse_safetensors_index(R"({"metadata":{},"weight_map":{"a":"model-00001-of-00002.safetensors"}})");
  ASSERT_TRUE(sut.has_value());
  EXPECT_EQ(sut->at("a"), "model-00001-of-00002.safetensors");
  EXPECT_FALSE(parse_safetensors_index(R"({"weight_map":{"a":"../../etc/passwd"}})").has_value());
  EXPECT_FALSE(parse_safetensors_index(R"({"weight_map":{"a":3}})").has_value());
  EXPECT_FALSE(parse_safetensors_index(R"({})").has_value());
}

TEST(CheckpointLayout, RecognisesEveryFamilysExpertNames) {
  auto m = parse_expert_tensor_name("model.layers.3.block_sparse_moe.experts.7.w3.weight");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->scheme, NamingScheme::k_mixtral);
  EXPECT_EQ(m->model_layer, 3u);
  EXPECT_EQ(m->expert, 7u);
  EXPECT_EQ(m->role, ExpertRole::k_up);
  auto q = parse_expert_tensor_name("model.layers.12.mlp.experts.127.down_proj.weight");
  ASSERT_TRUE(q.has_value());
  EXPECT_EQ(q->role, ExpertRole::k_down);
  EXPECT_EQ(parse_expert_tensor_name("model.layers.5.mlp.experts.1.gate_proj.weight_scale_inv")->role,
            ExpertRole::k_gate_scale);
  EXPECT_EQ(parse_expert_tensor_name("encoder.block.1.layer.1.mlp.experts.expert_4.wo.weight")->role, ExpertRole::k_wo);
  // Not routed experts.
  EXPECT_FALSE(parse_expert_tensor_name("model.layers.0.mlp.shared_experts.gate_proj.weight").has_value());
  EXPECT_FALSE(parse_expert_tensor_name("model.layers.0.mlp.gate.weight").has_value());
  EXPECT_FALSE(parse_expert_tensor_name("model.layers.0.mlp.shared_expert.up_proj.weight").has_value());
  EXPECT_FALSE(parse_expert_tensor_name("model.layers.0.mlp.gate_proj.weight").has_value());
}

std::vector<std::string> hf_names(std::uint32_t first_layer, std::uint32_t layers, std::uint32_t experts) {
  std::vector<std::string> names{"model.embed_tokens.weight", "model.layers.0.mlp.gate_proj.weight"};
  for (std::uint32_t l = first_layer; l < first_layer + layers; ++l)
    for (std::uint32_t e = 0; e < experts; ++e)
      for (const char* p : {"gate_proj", "up_proj", "down_proj"})
        names.push_back("model.layers." + std::to_string(l) + ".mlp.experts." + std::to_string(e) + "." + p + ".weight");
  return names;
}

TEST(CheckpointLayout, NumbersMoeLayersFromZeroSkippingDenseOnes) {
  auto sut = recognize_layout(hf_names(1, 3, 4));  // DeepSeek-style: layer 0 is dense
  ASSERT_TRUE(sut.has_value()) << sut.error();
  EXPECT_EQ(sut->layers, 3u);
  EXPECT_EQ(sut->experts_per_layer, 4u);
  EXPECT_EQ(sut->experts.front().model_layer, 1u);
  EXPECT_EQ(sut->experts.front().layer, 0u);
  EXPECT_EQ(sut->experts.back().layer, 2u);
}

TEST(CheckpointLayout, SaysWhatIsMissing) {
  auto names = hf_names(0, 2, 4);
  names.erase(std::find(names.begin(), names.end(), "model.layers.1.mlp.experts.2.up_proj.weight"));
  auto sut = recognize_layout(names);
  ASSERT_FALSE(sut.has_value());
  EXPECT_NE(sut.error().find("expert 2: no up matrix"), std::string::npos) << sut.error();
  auto gap = hf_names(0, 1, 4);
  gap.erase(std::remove_if(gap.begin(), gap.end(), [](const std::string& n) { return n.find("experts.1.") != std::string::npos; }),
            gap.end());
  EXPECT_NE(recognize_layout(gap).error().find("expert 1 is missing"), std::string::npos);
  EXPECT_NE(recognize_layout({"lm_head.weight"}).error().find("unknown layout"), std::string::npos);
}

}  // namespace
}  // namespace slimcache::config
