// Benchmarks (not tests) of the memory tier. Run a Release build.
//   slimcache-cache-bench [--dir DIR] [--expert-mib M] [--experts N]
// 1. lookup + pin + unpin of resident experts by a TierReader on one thread: operations per
//    second, and the heap allocations made during the loop (counted by this binary's
//    operator new; the target is none).
// 2. loading experts that are already in the OS page cache into the memory tier, verified
//    (DiskTier::read_into: pread into the shared-memory slot + XXH3 check), in GB/s, beside
//    a plain read() of the same blob files into one buffer.
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <new>
#include <random>
#include <string>
#include <vector>

#include "agent/cache/disk_tier.hpp"
#include "agent/cache/memory_tier.hpp"
#include "agent/cache/tier_reader.hpp"
#include "platform/posix_env.hpp"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace slimcache::agent::cache;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

int bench_pin() {
  auto& clock = slimcache::platform::SystemClock::instance();
  const std::string name = "slimcache-bench-pin-" + std::to_string(::getpid());
  MemoryTierOptions o{name, "olmoe", 16, 64, 0, 4096, 8};
  o.budget_bytes = 4096 * 8 + 256 * 4096;  // 256 resident experts (a quarter of OLMoE)
  auto tier = MemoryTier::create(o, clock);
  if (!tier) {
    std::fprintf(stderr, "%s\n", tier.error().message.c_str());
    return 1;
  }
  std::vector<std::uint32_t> resident;
  for (std::uint32_t i = 0; i < 1024 && resident.size() < (*tier)->num_slots(); i += 4) {
    if (!(*tier)->load(i / 64, i % 64, [](std::span<std::byte> s) -> slimcache::Expected<std::size_t, CacheError> {
          std::memset(s.data(), 1, s.size());
          return s.size();
        }))
      return 1;
    resident.push_back(i);
  }
  auto reader = TierReader::open(name, clock, std::chrono::seconds(3600));
  if (!reader) return 1;
  TierReader& r = **reader;
  // A shuffled access order, as an engine walking layers would produce.
  std::vector<std::uint32_t> order(1 << 16);
  std::mt19937 rng(1);
  for (auto& x : order) x = resident[rng() % resident.size()];
  const std::uint64_t ops = 50'000'000;
  std::uint64_t sink = 0;
  double best = 0.0;
  std::uint64_t allocations = 0;
  for (int round = 0; round < 3; ++round) {
    const std::uint64_t alloc0 = g_allocations.load();
    const auto t0 = Clock::now();
    for (std::uint64_t i = 0; i < ops; ++i) {
      const std::uint32_t idx = order[i & (order.size() - 1)];
      PinnedExpert p;
      if (r.try_pin(idx >> 6, idx & 63, p) != PinResult::k_pinned) return 1;
      sink += static_cast<std::uint64_t>(p.data[0]);
      r.unpin(p);
    }
    const double s = seconds_since(t0);
    allocations += g_allocations.load() - alloc0;
    best = std::max(best, static_cast<double>(ops) / s);
  }
  std::printf("lookup+pin+unpin of a resident expert, 1 thread: %.1f million/s (best of 3 x %llu), "
              "heap allocations in the loops: %llu (target: >= 10 million/s, 0 allocations) [%llu]\n",
              best / 1e6, static_cast<unsigned long long>(ops), static_cast<unsigned long long>(allocations),
              static_cast<unsigned long long>(sink % 2));
  return best >= 10e6 && allocations == 0 ? 0 : 1;
}

int bench_load(const std::string& dir, std::size_t expert_bytes, std::uint32_t experts) {
  auto& env = slimcache::platform::PosixEnv::instance();
  auto& clock = slimcache::platform::SystemClock::instance();
  std::filesystem::remove_all(dir);
  auto disk = DiskTier::open(env, {dir, std::uint64_t{experts} * (expert_bytes + 4096), VerifyMode::k_fast});
  if (!disk) {
    std::fprintf(stderr, "%s\n", disk.error().message.c_str());
    return 1;
  }
  std::vector<std::byte> data(expert_bytes);
  std::mt19937_64 rng(3);
  for (std::uint32_t e = 0; e < experts; ++e) {
    for (std::size_t i = 0; i < data.size(); i += 8) {
      const std::uint64_t v = rng();
      std::memcpy(data.data() + i, &v, std::min<std::size_t>(8, data.size() - i));
    }
    if (auto put = (*disk)->put({"olmoe", 0, e}, data); !put) {
      std::fprintf(stderr, "%s\n", put.error().message.c_str());
      return 1;
    }
  }
  const std::string name = "slimcache-bench-load-" + std::to_string(::getpid());
  MemoryTierOptions o{name, "olmoe", 1, experts, 0, expert_bytes, 8};
  o.budget_bytes = 4096 * 4 + std::uint64_t{experts} * ((expert_bytes + 4095) / 4096 * 4096);
  auto tier = MemoryTier::create(o, clock);
  if (!tier) {
    std::fprintf(stderr, "%s\n", tier.error().message.c_str());
    return 1;
  }
  const double total = static_cast<double>(expert_bytes) * experts;
  double best_tier = 0.0;
  double best_read = 0.0;
  std::vector<std::byte> buffer(expert_bytes + 4096);
  for (int round = 0; round < 6; ++round) {  // round 0 warms the page cache and the segment
    const auto t0 = Clock::now();
    for (std::uint32_t e = 0; e < experts; ++e) {
      auto loaded = (*tier)->load(0, e, [&](std::span<std::byte> slot) { return (*disk)->read_into({"olmoe", 0, e}, slot); });
      if (!loaded) {
        std::fprintf(stderr, "%s\n", loaded.error().message.c_str());
        return 1;
      }
    }
    const double s_tier = seconds_since(t0);
    for (std::uint32_t e = 0; e < experts; ++e) (void)(*tier)->evict(0, e);
    const auto t1 = Clock::now();
    for (const auto& blob : (*disk)->inventory()) {
      const int fd = ::open(blob.path.c_str(), O_RDONLY);
      std::size_t got = 0;
      for (ssize_t n = 1; n > 0 && got < buffer.size(); got += static_cast<std::size_t>(n > 0 ? n : 0))
        n = ::read(fd, buffer.data() + got, buffer.size() - got);
      ::close(fd);
    }
    const double s_read = seconds_since(t1);
    if (round > 0) {
      best_tier = std::max(best_tier, total / s_tier);
      best_read = std::max(best_read, total / s_read);
    }
  }
  std::printf("load into the memory tier, verified (pread + XXH3), %u experts of %.1f MiB from the page cache: "
              "%.2f GB/s; plain read() of the same files: %.2f GB/s (best of 5; target >= 1.5 GB/s)\n",
              experts, static_cast<double>(expert_bytes) / (1 << 20), best_tier / 1e9, best_read / 1e9);
  tier->reset();
  disk->reset();
  std::filesystem::remove_all(dir);
  return best_tier >= 1.5e9 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string dir = "/tmp/slimcache-cache-bench-" + std::to_string(::getpid());
  double expert_mib = 12.0;  // OLMoE's bf16 expert is about 12.6 MB (MODEL.md section 7)
  std::uint32_t experts = 16;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--dir") dir = argv[i + 1];
    else if (flag == "--expert-mib") expert_mib = std::atof(argv[i + 1]);
    else if (flag == "--experts") experts = static_cast<std::uint32_t>(std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  const int pin = bench_pin();
  const int load = bench_load(dir, static_cast<std::size_t>(expert_mib * (1 << 20)), experts);
  return pin == 0 && load == 0 ? 0 : 1;
}
