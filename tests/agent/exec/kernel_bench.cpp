// Kernel benchmark: this machine's streaming-read memory bandwidth next to the expert
// kernel's effective bandwidth (weight bytes / time) on OLMoE, Qwen3 and Mixtral shaped
// experts in bf16, fp16 and fp32. Build with CMAKE_BUILD_TYPE=Release.
//
//   slimcache_kernel_bench [--tokens B] [--threads N] [--reps R] [--buffer-mib M]
//                          [--working-set-mib W] [--shapes olmoe,qwen3,mixtral] [--dtypes bf16,f16,f32]
//                          [--clock auto|cpu|wall]
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
#include <time.h>
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
  std::string clock = "auto";  // auto = cpu with 1 thread, wall otherwise
};

// Timing: wall clock, or the calling thread's CPU time. The CPU clock leaves out the time
// the thread was preempted, which on a machine shared with other work (builds) is most of
// the difference between runs; it only applies to single-threaded measurements.
bool g_cpu_clock = true;

double now_seconds() {
  if (g_cpu_clock) {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
  }
  return std::chrono::duration<double>(Clock::now().time_since_epoch()).count();
}

// The widest loads this CPU has (GCC function multi-versioning), so that the bandwidth
// figure is not limited by the loop itself.
#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
std::uint64_t sum_range(const std::uint64_t* p, std::size_t n) {
  // Four independent 64-byte accumulators (GCC vector extension: one zmm each with
  // AVX-512, pairs of xmm by default).
  typedef std::uint64_t V8 __attribute__((vector_size(64)));
  V8 a{}, b{}, c{}, d{};
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    V8 x0, x1, x2, x3;
    std::memcpy(&x0, p + i, 64);
    std::memcpy(&x1, p + i + 8, 64);
    std::memcpy(&x2, p + i + 16, 64);
    std::memcpy(&x3, p + i + 24, 64);
    a += x0;
    b += x1;
    c += x2;
    d += x3;
  }
  std::uint64_t out = 0;
  for (; i < n; ++i) out += p[i];
  const V8 all = a ^ b ^ c ^ d;
  for (int k = 0; k < 8; ++k) out ^= all[k];
  return out;
}

// Best streaming-read bandwidth in GB/s (1e9 bytes/s) with `threads` threads.
double read_bandwidth(const std::vector<std::uint64_t>& buf, unsigned threads, int reps, std::uint64_t& sink) {
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    std::vector<std::uint64_t> partial(threads);
    const double t0 = now_seconds();
    std::vector<std::thread> pool;
    const std::size_t per = buf.size() / threads;
    for (unsigned t = 1; t < threads; ++t)
      pool.emplace_back([&, t] { partial[t] = sum_range(buf.data() + t * per, t + 1 == threads ? buf.size() - t * per : per); });
    partial[0] = sum_range(buf.data(), threads == 1 ? buf.size() : per);
    for (auto& th : pool) th.join();
    const double s = now_seconds() - t0;
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
               "          [--shapes olmoe,qwen3,mixtral] [--dtypes bf16,f16,f32] [--clock auto|cpu|wall]\n",
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
    else if (a == "--clock") o.clock = v;
    else return usage(argv[0]);
  }
  if (o.tokens == 0 || o.threads == 0 || o.reps <= 0 || o.buffer_mib == 0) return usage(argv[0]);
  if (o.clock != "auto" && o.clock != "cpu" && o.clock != "wall") return usage(argv[0]);
  if (o.clock == "cpu" && o.threads > 1) {
    std::fprintf(stderr, "--clock cpu measures one thread: use --clock wall with --threads > 1\n");
    return 2;
  }
  g_cpu_clock = o.clock == "cpu" || (o.clock == "auto" && o.threads == 1);

  std::uint64_t sink = 0;
  double bw1 = 0, bwn = 0;
  auto measure_bandwidth = [&] {
    std::vector<std::uint64_t> buf(o.buffer_mib * (1u << 20) / 8);
    for (std::size_t i = 0; i < buf.size(); ++i) buf[i] = i * 0x9e3779b97f4a7c15ull;
    bw1 = std::max(bw1, read_bandwidth(buf, 1, o.reps, sink));
    bwn = std::max(bwn, o.threads > 1 ? read_bandwidth(buf, o.threads, o.reps, sink) : bw1);
  };
  measure_bandwidth();
  struct Row {
    const char* shape;
    std::uint32_t hidden, ffn;
    WeightDtype dtype;
    double mib;
    std::size_t experts;
    double seconds;
    double gbs;
  };
  std::vector<Row> rows;

  const Shape shapes[] = {{"olmoe", 2048, 1024}, {"qwen3", 2048, 768}, {"mixtral", 4096, 14336}};
  RowThreads pool(o.threads);
  KernelOptions kopt;
  kopt.threads = o.threads > 1 ? &pool : nullptr;
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
        const double t0 = now_seconds();
        for (const auto& e : experts) {
          if (!run_expert(e.view, x, o.tokens, y, kopt)) {
            std::fprintf(stderr, "kernel failed on %s\n", shape.name);
            return 1;
          }
          sink ^= static_cast<std::uint64_t>(y[0] * 1e6f);
        }
        const double s = (now_seconds() - t0) / static_cast<double>(count);
        if (r > 0) best = std::min(best, s);
      }
      const double gbs = static_cast<double>(weight_bytes) / best / 1e9;
      rows.push_back({shape.name, shape.hidden, shape.ffn, dtype, static_cast<double>(weight_bytes) / (1 << 20), count,
                      best, gbs});
      std::fprintf(stderr, "%s %s: %.1f GB/s\n", shape.name, std::string(dtype_name(dtype)).c_str(), gbs);
    }
  }
  // Measured again at the end (best of both): on a shared machine a burst of load from
  // other processes during the first measurement would otherwise inflate every ratio.
  measure_bandwidth();
  const double bw = o.threads > 1 ? bwn : bw1;
  std::printf("kernel variant: %s (available:", std::string(isa_name(best_isa())).c_str());
  for (auto isa : available_isas()) std::printf(" %s", std::string(isa_name(isa)).c_str());
  std::printf(")\n");
  std::printf("timing: %s clock\n", g_cpu_clock ? "thread CPU" : "wall");
  std::printf("memory bandwidth (streaming read of %zu MiB, best of %d passes before and %d after the kernels):\n"
              "  1 thread %.1f GB/s",
              o.buffer_mib, o.reps, o.reps, bw1);
  if (o.threads > 1) std::printf(", %u threads %.1f GB/s", o.threads, bwn);
  std::printf("\n\n%-8s %6s %6s %5s %6s %7s %8s %8s %10s %11s %9s %6s\n", "shape", "hidden", "ffn", "dtype", "tokens",
              "threads", "MiB/exp", "experts", "us/expert", "kernel GB/s", "mem GB/s", "ratio");
  for (const auto& r : rows)
    std::printf("%-8s %6u %6u %5s %6zu %7u %8.1f %8zu %10.1f %11.1f %9.1f %5.0f%%\n", r.shape, r.hidden, r.ffn,
                std::string(dtype_name(r.dtype)).c_str(), o.tokens, o.threads, r.mib, r.experts, r.seconds * 1e6, r.gbs,
                bw, 100.0 * r.gbs / bw);
  std::fprintf(stderr, "(checksum %llu)\n", static_cast<unsigned long long>(sink & 0xff));
  return 0;
}
