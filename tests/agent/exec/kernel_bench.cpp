// Kernel benchmark: this machine's streaming-read memory bandwidth next to the expert
// kernel's effective bandwidth (weight bytes / time) on OLMoE, Qwen3 and Mixtral shaped
// experts in bf16, fp16 and fp32. Build with CMAKE_BUILD_TYPE=Release.
//
//   slimcache_kernel_bench [--tokens B] [--threads N] [--reps R] [--buffer-mib M]
//                          [--working-set-mib W] [--shapes olmoe,qwen3,mixtral] [--dtypes bf16,f16,f32]
//
// Bandwidth: best of R passes of a 4-accumulator 64-bit sum over an M MiB buffer (default
// 1024, far beyond the caches), with 1 thread and with N threads. Kernel: each shape/dtype
// gets enough distinct experts to exceed W MiB (default 512; each is read once per pass, so
// no pass is served from the 32 MiB L3), best of R passes; ratio = kernel / bandwidth with
// the same number of threads.
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "agent/exec/expert_kernel.hpp"
#include "tests/agent/exec/generated_expert.hpp"

namespace {

using namespace slimcache::agent::exec;
using Clock = std::chrono::steady_clock;

struct Options {
  std::size_t tokens = 1;
  unsigned threads = 1;
  int reps = 5;
  std::size_t buffer_mib = 1024;
  std::size_t working_set_mib = 512;
  std::string shapes = "olmoe,qwen3,mixtral";
  std::string dtypes = "bf16,f16,f32";
};

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::uint64_t sum_range(const std::uint64_t* p, std::size_t n) {
  std::uint64_t a = 0, b = 0, c = 0, d = 0;
  std::size_t i = 0;
  for (; i + 4 <= n; i += 4) {
    a += p[i];
    b += p[i + 1];
    c += p[i + 2];
    d += p[i + 3];
  }
  for (; i < n; ++i) a += p[i];
  return a ^ b ^ c ^ d;
}

// Best streaming-read bandwidth in GB/s (1e9 bytes/s) with `threads` threads.
double read_bandwidth(const std::vector<std::uint64_t>& buf, unsigned threads, int reps, std::uint64_t& sink) {
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    std::vector<std::uint64_t> partial(threads);
    const auto t0 = Clock::now();
    std::vector<std::thread> pool;
    const std::size_t per = buf.size() / threads;
    for (unsigned t = 1; t < threads; ++t)
      pool.emplace_back([&, t] { partial[t] = sum_range(buf.data() + t * per, t + 1 == threads ? buf.size() - t * per : per); });
    partial[0] = sum_range(buf.data(), threads == 1 ? buf.size() : per);
    for (auto& th : pool) th.join();
    const double s = seconds_since(t0);
    for (auto v : partial) sink ^= v;
    best = std::max(best, static_cast<double>(buf.size() * 8) / s / 1e9);
  }
  return best;
}

struct Shape {
  const char* name;
  std::uint32_t hidden;
  std::uint32_t ffn;
};

bool listed(const std::string& list, const std::string& item) {
  return ("," + list + ",").find("," + item + ",") != std::string::npos;
}

int usage(const char* argv0) {
  std::fprintf(stderr,
               "usage: %s [--tokens B] [--threads N] [--reps R] [--buffer-mib M] [--working-set-mib W]\n"
               "          [--shapes olmoe,qwen3,mixtral] [--dtypes bf16,f16,f32]\n",
               argv0);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (i + 1 >= argc) return usage(argv[0]);
    const char* v = argv[++i];
    if (a == "--tokens") o.tokens = std::strtoul(v, nullptr, 10);
    else if (a == "--threads") o.threads = static_cast<unsigned>(std::strtoul(v, nullptr, 10));
    else if (a == "--reps") o.reps = std::atoi(v);
    else if (a == "--buffer-mib") o.buffer_mib = std::strtoul(v, nullptr, 10);
    else if (a == "--working-set-mib") o.working_set_mib = std::strtoul(v, nullptr, 10);
    else if (a == "--shapes") o.shapes = v;
    else if (a == "--dtypes") o.dtypes = v;
    else return usage(argv[0]);
  }
  if (o.tokens == 0 || o.threads == 0 || o.reps <= 0 || o.buffer_mib == 0) return usage(argv[0]);

  std::uint64_t sink = 0;
  double bw1 = 0, bwn = 0;
  {
    std::vector<std::uint64_t> buf(o.buffer_mib * (1u << 20) / 8);
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = i * 0x9e3779b97f4a7c15ull;
    bw1 = read_bandwidth(buf, 1, o.reps, sink);
    bwn = o.threads > 1 ? read_bandwidth(buf, o.threads, o.reps, sink) : bw1;
  }
  std::printf("kernel variant: %s (available:", std::string(isa_name(best_isa())).c_str());
  for (auto isa : available_isas()) std::printf(" %s", std::string(isa_name(isa)).c_str());
  std::printf(")\n");
  std::printf("memory bandwidth (streaming read, %zu MiB, best of %d): 1 thread %.1f GB/s", o.buffer_mib, o.reps, bw1);
  if (o.threads > 1) std::printf(", %u threads %.1f GB/s", o.threads, bwn);
  std::printf("\n\n");
  std::printf("%-8s %6s %6s %5s %6s %7s %9s %9s %12s %11s %6s\n", "shape", "hidden", "ffn", "dtype", "tokens",
              "threads", "MiB/exp", "experts", "us/expert", "kernel GB/s", "ratio");

  const Shape shapes[] = {{"olmoe", 2048, 1024}, {"qwen3", 2048, 768}, {"mixtral", 4096, 14336}};
  RowThreads pool(o.threads);
  KernelOptions kopt;
  kopt.threads = o.threads > 1 ? &pool : nullptr;
  const double bw = o.threads > 1 ? bwn : bw1;
  for (const auto& shape : shapes) {
    if (!listed(o.shapes, shape.name)) continue;
    for (WeightDtype dtype : {WeightDtype::k_bf16, WeightDtype::k_f16, WeightDtype::k_f32}) {
      if (!listed(o.dtypes, std::string(dtype_name(dtype)))) continue;
      const std::uint64_t weight_bytes = 3ull * shape.hidden * shape.ffn * dtype_size(dtype);
      const std::size_t count =
          std::max<std::size_t>(1, (o.working_set_mib * (1ull << 20) + weight_bytes - 1) / weight_bytes);
      std::vector<slimcache::agent::exec::testing::GeneratedExpert> experts;
      for (std::size_t e = 0; e < count; ++e)
        experts.push_back(slimcache::agent::exec::testing::generate_expert(ExpertKind::k_swiglu, dtype, shape.hidden,
                                                                           shape.ffn, 1000 + e));
      const auto x = slimcache::agent::exec::testing::generate_activations(o.tokens * shape.hidden, 1);
      std::vector<float> y(o.tokens * shape.hidden);
      double best = 1e30;
      for (int r = 0; r <= o.reps; ++r) {  // pass 0 warms up (page faults, caches)
        const auto t0 = Clock::now();
        for (const auto& e : experts) {
          if (!run_expert(e.view, x, o.tokens, y, kopt)) {
            std::fprintf(stderr, "kernel failed on %s\n", shape.name);
            return 1;
          }
          sink ^= static_cast<std::uint64_t>(y[0] * 1e6f);
        }
        const double s = seconds_since(t0) / static_cast<double>(count);
        if (r > 0) best = std::min(best, s);
      }
      const double gbs = static_cast<double>(weight_bytes) / best / 1e9;
      std::printf("%-8s %6u %6u %5s %6zu %7u %9.1f %9zu %12.1f %11.1f %5.0f%%\n", shape.name, shape.hidden, shape.ffn,
                  std::string(dtype_name(dtype)).c_str(), o.tokens, o.threads,
                  static_cast<double>(weight_bytes) / (1 << 20), count, best * 1e6, gbs, 100.0 * gbs / bw);
      std::fflush(stdout);
    }
  }
  std::fprintf(stderr, "(checksum %llu)\n", static_cast<unsigned long long>(sink & 0xff));
  return 0;
}
