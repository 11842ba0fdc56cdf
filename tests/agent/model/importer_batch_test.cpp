// run_import_batched: the same experts as run_import, in bounded batches; a failed batch
// rolls back every earlier batch and stores nothing partial.
#include "agent/model/importer.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <map>

#include "tests/agent/model/checkpoint_fixture.hpp"

namespace slimcache::agent::model {
namespace {

namespace fs = std::filesystem;
using testing::CheckpointSpec;
using testing::Family;
using Stored = std::map<std::pair<std::uint32_t, std::uint32_t>, std::vector<std::byte>>;

class ImporterBatchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/slimcache-import-batch-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    m_dir = tmpl;
    testing::write_checkpoint(m_dir / "ckpt", CheckpointSpec{Family::k_qwen3_moe, 3, 7, 2, 16, 8, 2, config::DType::k_bf16});
    auto plan = plan_import({(m_dir / "ckpt").string(), "", 0});
    ASSERT_TRUE(plan.has_value()) << plan.error();
    m_plan = std::move(plan).value();
  }
  void TearDown() override { fs::remove_all(m_dir); }

  fs::path m_dir;
  ImportPlan m_plan;
};

TEST_F(ImporterBatchTest, BatchesHoldTheSameExpertsAsOneByOneAndRespectTheBound) {
  Stored one_by_one;
  Stored sut;
  std::vector<std::size_t> sizes;
  auto single = run_import(
      m_plan,
      [&](std::uint32_t l, std::uint32_t e, std::span<const std::byte> p) -> Expected<void, std::string> {
        one_by_one[{l, e}].assign(p.begin(), p.end());
        return {};
      },
      [](std::uint32_t, std::uint32_t) {});
  auto batched = run_import_batched(
      m_plan,
      [&](std::span<const ExpertBlob> batch) -> Expected<void, std::string> {
        sizes.push_back(batch.size());
        for (const auto& b : batch) sut[{b.layer, b.expert}].assign(b.payload.begin(), b.payload.end());
        return {};
      },
      [](std::uint32_t, std::uint32_t) {}, {}, ImportBatching{4, 1ull << 30});

  ASSERT_TRUE(single.has_value()) << single.error();
  ASSERT_TRUE(batched.has_value()) << batched.error();
  EXPECT_EQ(batched->experts, 21u);
  EXPECT_EQ(batched->bytes, single->bytes);
  EXPECT_TRUE(sut == one_by_one);
  EXPECT_EQ(sizes, (std::vector<std::size_t>{4, 4, 4, 4, 4, 1}));
}

TEST_F(ImporterBatchTest, AFailedBatchRemovesEveryExpertOfTheEarlierBatches) {
  Stored sut;
  int batches = 0;
  auto report = run_import_batched(
      m_plan,
      [&](std::span<const ExpertBlob> batch) -> Expected<void, std::string> {
        if (++batches == 3) return Unexpected(std::string("disk full"));
        for (const auto& b : batch) sut[{b.layer, b.expert}].assign(b.payload.begin(), b.payload.end());
        return {};
      },
      [&](std::uint32_t l, std::uint32_t e) { sut.erase({l, e}); }, {}, ImportBatching{5, 1ull << 30});

  ASSERT_FALSE(report.has_value());
  EXPECT_NE(report.error().find("disk full"), std::string::npos);
  EXPECT_NE(report.error().find("and 4 more"), std::string::npos);
  EXPECT_TRUE(sut.empty());
}

}  // namespace
}  // namespace slimcache::agent::model
