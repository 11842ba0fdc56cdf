#include "agent/cache/memory_tier.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xxhash.h>

#include <cstring>
#include <random>

#include "agent/cache/tier_reader.hpp"

namespace slimcache::agent::cache {
namespace {

using namespace std::chrono_literals;

constexpr std::uint32_t k_layers = 4;
constexpr std::uint32_t k_experts = 8;
constexpr std::uint64_t k_slot = 4096;

std::string unique_name(const char* what) {
  return std::string("slimcache-test-") + what + "-" + std::to_string(::getpid());
}

// Expert content: deterministic per expert and different between experts.
std::size_t expert_size(std::uint32_t layer, std::uint32_t expert) { return 1000 + 97 * (layer * k_experts + expert); }
SlotFiller filler(std::uint32_t layer, std::uint32_t expert) {
  return [=](std::span<std::byte> slot) -> Expected<std::size_t, CacheError> {
    const std::size_t n = expert_size(layer, expert);
    for (std::size_t i = 0; i < n; ++i) slot[i] = static_cast<std::byte>((layer * k_experts + expert) * 31 + i * 7);
    return n;
  };
}
std::uint64_t expected_hash(std::uint32_t layer, std::uint32_t expert) {
  std::vector<std::byte> buf(k_slot);
  const auto n = *filler(layer, expert)(buf);
  return XXH3_64bits(buf.data(), n);
}

std::unique_ptr<MemoryTier> make_tier(const std::string& name, const platform::Clock& clock, std::uint32_t slots) {
  MemoryTierOptions options{name, "olmoe", k_layers, k_experts, 0, k_slot, 8};
  options.budget_bytes = 4096 + std::uint64_t{slots} * k_slot;  // header + directory fit in 4 KiB
  auto tier = MemoryTier::create(options, clock);
  EXPECT_TRUE(tier.has_value()) << (tier ? "" : tier.error().message);
  return tier ? std::move(*tier) : nullptr;
}

TEST(MemoryTier, ALoadedExpertIsFoundByAReaderWithoutCopying) {
  platform::ManualClock clock;
  auto sut = make_tier(unique_name("visible"), clock, 4);
  ASSERT_EQ(sut->num_slots(), 4U);
  ASSERT_TRUE(sut->load(2, 5, filler(2, 5)).has_value());
  auto reader = TierReader::open(sut->name(), clock, 30s);
  ASSERT_TRUE(reader.has_value()) << reader.error().message;
  EXPECT_EQ((*reader)->model(), "olmoe");
  auto pinned = (*reader)->pin(2, 5);
  ASSERT_TRUE(pinned.has_value()) << pinned.error().message;
  EXPECT_EQ(pinned->size, expert_size(2, 5));
  EXPECT_EQ(XXH3_64bits(pinned->data, pinned->size), expected_hash(2, 5));
  EXPECT_EQ(sut->pin_count(2, 5), 1U);
  (*reader)->unpin(*pinned);
  EXPECT_EQ(sut->pin_count(2, 5), 0U);
  EXPECT_EQ((*reader)->pin(2, 6).error().code, CacheErrc::k_not_found);
}

TEST(MemoryTier, APinnedExpertIsNeverEvicted) {
  platform::ManualClock clock;
  auto sut = make_tier(unique_name("pinned"), clock, 4);
  ASSERT_TRUE(sut->load(0, 0, filler(0, 0)).has_value());
  auto reader = TierReader::open(sut->name(), clock, 30s);
  ASSERT_TRUE(reader.has_value());
  auto pinned = (*reader)->pin(0, 0);
  ASSERT_TRUE(pinned.has_value());
  auto refused = sut->evict(0, 0);
  ASSERT_FALSE(refused.has_value());
  EXPECT_EQ(refused.error().code, CacheErrc::k_pinned);
  EXPECT_TRUE((*reader)->is_resident(0, 0));
  (*reader)->unpin(*pinned);
  ASSERT_TRUE(sut->evict(0, 0).has_value());
  EXPECT_FALSE((*reader)->is_resident(0, 0));
  EXPECT_EQ((*reader)->pin(0, 0).error().code, CacheErrc::k_not_found);
}

TEST(MemoryTier, AFullTierAsksForAnEvictionAndAFailedLoadFreesTheSlot) {
  platform::ManualClock clock;
  auto sut = make_tier(unique_name("full"), clock, 2);
  ASSERT_TRUE(sut->load(0, 0, filler(0, 0)).has_value());
  auto failing = [](std::span<std::byte>) -> Expected<std::size_t, CacheError> {
    return Unexpected(CacheError{CacheErrc::k_corrupt, "bad blob"});
  };
  EXPECT_EQ(sut->load(0, 1, failing).error().code, CacheErrc::k_corrupt);
  EXPECT_FALSE(sut->is_resident(0, 1));
  ASSERT_TRUE(sut->load(0, 1, filler(0, 1)).has_value());
  EXPECT_EQ(sut->load(0, 2, filler(0, 2)).error().code, CacheErrc::k_no_free_slot);
  EXPECT_EQ(sut->inventory().size(), 2U);
}

TEST(MemoryTier, AnExpiredLeaseLosesItsPins) {
  platform::ManualClock clock;
  auto sut = make_tier(unique_name("expiry"), clock, 2);
  ASSERT_TRUE(sut->load(1, 1, filler(1, 1)).has_value());
  auto reader = TierReader::open(sut->name(), clock, 10s);
  ASSERT_TRUE(reader.has_value());
  ASSERT_TRUE((*reader)->pin(1, 1).has_value());
  clock.advance(5s);
  ASSERT_TRUE((*reader)->renew_lease().has_value());
  clock.advance(9s);
  EXPECT_EQ(sut->evict(1, 1).error().code, CacheErrc::k_pinned);  // renewed: still live
  clock.advance(2s);
  ASSERT_TRUE(sut->evict(1, 1).has_value());  // expired: reclaimed
  ASSERT_TRUE(sut->load(1, 1, filler(1, 1)).has_value());
  PinnedExpert out;
  EXPECT_EQ((*reader)->try_pin(1, 1, out), PinResult::k_lease_lost);
  ASSERT_TRUE((*reader)->renew_lease().has_value());
  EXPECT_EQ((*reader)->try_pin(1, 1, out), PinResult::k_pinned);
}

TEST(TierReader, OpeningAMissingTierIsNotFound) {
  platform::ManualClock clock;
  auto sut = TierReader::open(unique_name("missing"), clock, 10s);
  ASSERT_FALSE(sut.has_value());
  EXPECT_EQ(sut.error().code, CacheErrc::k_not_found);
}

// ---- a second process ------------------------------------------------------------------

struct Pipe {
  int fds[2] = {-1, -1};
  Pipe() { EXPECT_EQ(::pipe(fds), 0); }
  ~Pipe() {
    for (int fd : fds)
      if (fd >= 0) ::close(fd);
  }
  void send(char c) const { EXPECT_EQ(::write(fds[1], &c, 1), 1); }
  char receive() const {
    char c = 0;
    return ::read(fds[0], &c, 1) == 1 ? c : '\0';
  }
};

// The child's status: 0 when it did all it was told.
int wait_child(pid_t pid) {
  int status = 0;
  if (::waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

TEST(MemoryTierTwoProcesses, ACrashedReaderDoesNotLeakItsPins) {
  auto& clock = platform::SystemClock::instance();
  auto sut = make_tier(unique_name("crash"), clock, 4);
  ASSERT_TRUE(sut->load(3, 3, filler(3, 3)).has_value());
  Pipe to_parent;
  Pipe to_child;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto reader = TierReader::open(sut->name(), clock, 3600s);
    if (!reader || !(*reader)->pin(3, 3)) ::_exit(1);
    to_parent.send('p');
    (void)to_child.receive();
    ::_exit(0);  // dies holding the pin (no destructor runs)
  }
  ASSERT_EQ(to_parent.receive(), 'p');
  EXPECT_EQ(sut->evict(3, 3).error().code, CacheErrc::k_pinned);  // the reader is alive
  to_child.send('x');
  ASSERT_EQ(wait_child(child), 0);
  EXPECT_TRUE(sut->evict(3, 3).has_value());  // its owner died: the lease is reclaimed
}

// The daemon side evicts and loads continuously while another process pins, checks and
// unpins experts: a pinned expert's bytes never change, and every pin sees the right expert.
TEST(MemoryTierTwoProcesses, AReaderNeverSeesAPinnedExpertChange) {
  auto& clock = platform::SystemClock::instance();
  // 24 slots for 32 experts: the daemon side always has something to evict.
  auto sut = make_tier(unique_name("churn"), clock, 24);
  std::vector<std::uint64_t> hashes;
  for (std::uint32_t l = 0; l < k_layers; ++l)
    for (std::uint32_t x = 0; x < k_experts; ++x) hashes.push_back(expected_hash(l, x));
  for (std::uint32_t i = 0; i < 24; ++i) ASSERT_TRUE(sut->load(i / k_experts, i % k_experts, filler(i / k_experts, i % k_experts)).has_value());
  Pipe to_parent;
  Pipe to_child;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto reader = TierReader::open(sut->name(), clock, 3600s);
    if (!reader) ::_exit(1);
    to_parent.send('r');
    if (to_child.receive() != 'g') ::_exit(4);
    std::mt19937 rng(7);
    int pinned = 0;
    for (int i = 0; i < 20000; ++i) {
      const std::uint32_t index = rng() % (k_layers * k_experts);
      PinnedExpert out;
      if ((*reader)->try_pin(index / k_experts, index % k_experts, out) != PinResult::k_pinned) continue;
      ++pinned;
      const std::uint64_t first = XXH3_64bits(out.data, out.size);
      const std::uint64_t second = XXH3_64bits(out.data, out.size);
      (*reader)->unpin(out);
      if (out.size != expert_size(index / k_experts, index % k_experts) || first != hashes[index] || second != first)
        ::_exit(2);
    }
    to_parent.send('d');
    ::_exit(pinned > 0 ? 0 : 3);
  }
  ASSERT_EQ(to_parent.receive(), 'r');
  to_child.send('g');
  std::mt19937 rng(11);
  std::size_t refused = 0;
  // Churn for as long as the reader runs (bounded), so the two really overlap.
  pollfd done{to_parent.fds[0], POLLIN, 0};
  for (int i = 0; i < 5'000'000 && ::poll(&done, 1, 0) == 0; ++i) {
    const std::uint32_t index = rng() % (k_layers * k_experts);
    const std::uint32_t l = index / k_experts;
    const std::uint32_t x = index % k_experts;
    if (sut->is_resident(l, x)) {
      auto evicted = sut->evict(l, x);
      if (!evicted) {
        ASSERT_EQ(evicted.error().code, CacheErrc::k_pinned);
        ++refused;
      }
    } else {
      auto loaded = sut->load(l, x, filler(l, x));
      ASSERT_TRUE(loaded.has_value() || loaded.error().code == CacheErrc::k_no_free_slot);
    }
  }
  EXPECT_EQ(wait_child(child), 0) << "1: no reader, 2: a pinned expert changed, 3: never pinned, 4: no go";
  std::cout << "evictions refused because pinned: " << refused << "\n";
}

}  // namespace
}  // namespace slimcache::agent::cache
