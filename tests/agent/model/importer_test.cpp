#include "agent/model/importer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "agent/exec/expert_payload.hpp"
#include "agent/model/model_manifest.hpp"
#include "tests/agent/model/checkpoint_fixture.hpp"

namespace slimcache::agent::model {
namespace {

namespace fs = std::filesystem;
using testing::CheckpointSpec;
using testing::Family;

class ImporterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slimcache-import-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = tmpl;
  }
  void TearDown() override { fs::remove_all(m_dir); }

  // Imports into an in-memory map; returns the plan's error or the stored experts.
  Expected<ImportReport, std::string> import(const fs::path& dir, ImportOptions options = {}) {
    options.model_dir = dir.string();
    auto plan = plan_import(options);
    if (!plan) return Unexpected(plan.error());
    m_manifest = plan->manifest;
    return run_import(
        *plan,
        [this](std::uint32_t l, std::uint32_t e, std::span<const std::byte> p) -> Expected<void, std::string> {
          if (m_fail_after && m_stored.size() == *m_fail_after) return Unexpected(std::string("disk full"));
          m_stored[{l, e}].assign(p.begin(), p.end());
          return {};
        },
        [this](std::uint32_t l, std::uint32_t e) { m_stored.erase({l, e}); });
  }

  fs::path m_dir;
  ModelManifest m_manifest;
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<std::byte>> m_stored;
  std::optional<std::size_t> m_fail_after;
};

TEST_F(ImporterTest, ImportsEveryFamilySingleFileAndSharded) {
  for (auto family : {Family::k_mixtral, Family::k_qwen3_moe, Family::k_olmoe, Family::k_deepseek_v3}) {
    for (std::uint32_t shards : {1u, 3u}) {
      const CheckpointSpec spec{family, 3, 4, 2, 16, 8, shards, config::DType::k_bf16};
      const auto dir = m_dir / ("f" + std::to_string(static_cast<int>(family)) + "s" + std::to_string(shards));
      const auto names = testing::write_checkpoint(dir, spec);
      m_stored.clear();
      auto sut = import(dir);
      ASSERT_TRUE(sut.has_value()) << sut.error();
      EXPECT_EQ(sut->experts, 12u);
      EXPECT_EQ(m_manifest.layers, 3u);
      EXPECT_EQ(m_manifest.experts, 4u);
      EXPECT_EQ(m_manifest.top_k, 2u);
      EXPECT_EQ(m_manifest.hidden, 16u);
      EXPECT_EQ(m_manifest.ffn, 8u);
      EXPECT_EQ(m_manifest.dtype, "bf16");
      ASSERT_EQ(m_stored.size(), 12u);
      // The payload holds the checkpoint's bytes: check expert (2, 3)'s down matrix.
      const auto& payload = m_stored.at({2, 3});
      auto view = exec::decode_expert_payload(payload);
      ASSERT_TRUE(view.has_value()) << view.error().message;
      const std::uint32_t model_layer = family == Family::k_deepseek_v3 ? 3 : 2;
      const auto down_name = testing::expert_tensor_names(spec, model_layer, 3)[2];
      const auto* bytes = reinterpret_cast<const std::uint8_t*>(view->down.data);
      for (std::uint64_t i = 0; i < 16 * 8 * 2; ++i) ASSERT_EQ(bytes[i], testing::fixture_byte(down_name, i)) << i;
    }
  }
}

TEST_F(ImporterTest, AFailingStoreLeavesNothingPartial) {
  testing::write_checkpoint(m_dir / "m", {Family::k_olmoe, 2, 4, 2, 16, 8, 1, config::DType::k_f32});
  m_fail_after = 5;
  auto sut = import(m_dir / "m");
  ASSERT_FALSE(sut.has_value());
  EXPECT_NE(sut.error().find("disk full"), std::string::npos);
  EXPECT_TRUE(m_stored.empty());
}

TEST_F(ImporterTest, TensorOutOfBoundsIsAClearErrorNamingTheFile) {
  testing::write_checkpoint(m_dir / "m", {});
  fs::resize_file(m_dir / "m" / "model.safetensors", fs::file_size(m_dir / "m" / "model.safetensors") - 10);
  auto sut = import(m_dir / "m");
  ASSERT_FALSE(sut.has_value());
  EXPECT_NE(sut.error().find("model.safetensors"), std::string::npos) << sut.error();
  EXPECT_NE(sut.error().find("out of bounds"), std::string::npos) << sut.error();
  EXPECT_TRUE(m_stored.empty());
}

TEST_F(ImporterTest, MalformedHeaderAndUnknownLayoutAreRejected) {
  fs::create_directories(m_dir / "bad");
  std::ofstream(m_dir / "bad" / "config.json") << R"({"num_experts_per_tok": 2})";
  {
    const std::string json = "{not json at all}";
    std::string bytes(8, '\0');
    bytes[0] = static_cast<char>(json.size());
    std::ofstream(m_dir / "bad" / "model.safetensors", std::ios::binary) << bytes << json;
  }
  auto bad = import(m_dir / "bad");
  ASSERT_FALSE(bad.has_value());
  EXPECT_NE(bad.error().find("not a JSON object"), std::string::npos) << bad.error();

  fs::create_directories(m_dir / "dense");
  std::ofstream(m_dir / "dense" / "config.json") << R"({"num_experts_per_tok": 2})";
  std::vector<config::TensorInfo> t{{"model.layers.0.mlp.gate_proj.weight", config::DType::k_f32, {2, 2}, 0, 0}};
  auto header = config::encode_safetensors_header(t);
  std::ofstream out(m_dir / "dense" / "model.safetensors", std::ios::binary);
  out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
  out << std::string(16, '\0');
  out.close();
  auto dense = import(m_dir / "dense");
  ASSERT_FALSE(dense.has_value());
  EXPECT_NE(dense.error().find("unknown layout"), std::string::npos) << dense.error();
}

TEST_F(ImporterTest, TopKComesFromConfigOrTheCaller) {
  testing::write_checkpoint(m_dir / "m", {});
  std::ofstream(m_dir / "m" / "config.json") << R"({"model_type": "olmoe"})";
  auto missing = import(m_dir / "m");
  ASSERT_FALSE(missing.has_value());
  EXPECT_NE(missing.error().find("--top-k"), std::string::npos);
  ImportOptions options;
  options.top_k = 3;
  options.model_id = "tiny";
  ASSERT_TRUE(import(m_dir / "m", options).has_value());
  EXPECT_EQ(m_manifest.top_k, 3u);
  EXPECT_EQ(m_manifest.model, "tiny");
}

TEST(ModelManifest, RoundTripsAndRejectsBadFields) {
  ModelManifest m{"olmoe", "hf-moe", "swiglu", "bf16", 16, 64, 8, 2048, 1024, 12582912};
  auto back = manifest_from_json(manifest_to_json(m));
  ASSERT_TRUE(back.has_value()) << back.error();
  EXPECT_EQ(*back, m);
  EXPECT_FALSE(manifest_from_json(R"({"model": "x"})").has_value());
  EXPECT_FALSE(manifest_from_json("[]").has_value());
  m.top_k = 65;
  EXPECT_FALSE(manifest_from_json(manifest_to_json(m)).has_value());
}

}  // namespace
}  // namespace slimcache::agent::model
