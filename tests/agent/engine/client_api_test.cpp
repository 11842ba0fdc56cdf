// The C API end to end: this test plays the daemon (creates the memory tier with one
// resident expert and the engine segment), runs the C program client_c_test against them
// as a separate process, then checks what the program recorded.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/cache/memory_tier.hpp"
#include "agent/engine/engine_segment.hpp"

namespace slimcache::agent::engine {
namespace {

TEST(ClientApi, ACProgramRecordsLocatesAndPinsThroughTheSharedLibrary) {
  const std::string name = "slimcache-capi-" + std::to_string(::getpid());
  constexpr std::uint32_t layers = 3, experts = 8, rl = 1, re = 5;
  cache::MemoryTierOptions options;
  options.name = name;
  options.model = "capi";
  options.num_layers = layers;
  options.num_experts = experts;
  options.slot_size = 4096;
  options.budget_bytes = 1 << 20;
  auto tier = cache::MemoryTier::create(options, platform::SystemClock::instance());
  ASSERT_TRUE(tier.has_value()) << tier.error().message;
  auto loaded = (*tier)->load(rl, re, [](std::span<std::byte> slot) -> Expected<std::size_t, cache::CacheError> {
    slot[0] = std::byte{rl};
    slot[1] = std::byte{re};
    return std::size_t{64};
  });
  ASSERT_TRUE(loaded.has_value()) << loaded.error().message;
  auto segment = EngineSegment::create(name, {layers, experts, 4096, "capi"});
  ASSERT_TRUE(segment.has_value()) << segment.error().message;

  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::execl(CLIENT_C_TEST_PATH, "client_c_test", name.c_str(), std::to_string(layers).c_str(),
            std::to_string(experts).c_str(), std::to_string(rl).c_str(), std::to_string(re).c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  // What the program recorded arrived: 100 tokens x 3 layers x 2 experts.
  const auto counters = segment->counters();
  std::uint64_t total = 0;
  for (auto c : counters) total += c;
  EXPECT_EQ(total, 100u * layers * 2);
  EXPECT_EQ(segment->recorded(), 100u * layers);
  EXPECT_EQ(segment->dropped(), 1u);
  EngineSegment::remove(name);
}

}  // namespace
}  // namespace slimcache::agent::engine
