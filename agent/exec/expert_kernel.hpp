#pragma once
// The expert execution kernel: one routed expert (or several of one layer) on a batch of
// tokens, fp32 activations, weights in fp32, bf16 or fp16, fp32 accumulation.
//
//   SwiGLU:      y = down · (silu(gate · x) ⊙ (up · x)),   silu(v) = v / (1 + e^-v)
//   two-matrix:  y = wo · relu(wi · x)                      (Switch Transformers)
//
// x and y hold `tokens` rows of `hidden` floats (row-major, token t at [t * hidden]).
// Each weight matrix is streamed from memory once per call whatever the batch size: the
// kernel is a memory-bound GEMV (skinny GEMM for tokens > 1), vectorised with AVX-512F or
// AVX2+FMA+F16C on x86 (chosen at run time; fp16 is converted in software on CPUs without
// F16C), NEON on aarch64 and plain C++ elsewhere (armhf).
//
// Accuracy: every n-term dot product is accumulated in fp32 with at least 8 partial sums,
// so each product passes through at most d(n) = ceil(n / 8) + 32 roundings
// (k_accumulation_depth) and the computed dot differs from the exact one (of the stored
// weights and the given x) by at most γ(d) · Σ|w||x|, γ(d) = d·u / (1 − d·u), u = 2^-24.
// tests/agent/exec/kernel_test.cpp propagates this through silu/relu and the second matrix.
// Results do not depend on how rows are split over threads (bitwise identical).
//
// Threads: the functions are thread-safe (no shared state); with KernelOptions::threads
// they split matrix rows over that RowThreads, which the caller owns and must not use
// concurrently. Failures (k_invalid_argument) leave y unspecified; nothing throws except
// std::bad_alloc for the small fp32 intermediate (tokens x ffn).
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "agent/exec/exec_error.hpp"
#include "agent/exec/expert_payload.hpp"
#include "agent/exec/row_threads.hpp"
#include "solver/expected.hpp"

namespace slimcache::agent::exec {

enum class KernelIsa : std::uint8_t { k_auto, k_scalar, k_avx2, k_avx512, k_neon };

// The variants this CPU can run, best last; k_scalar is always there.
std::vector<KernelIsa> available_isas();
// The variant k_auto selects.
KernelIsa best_isa();
std::string_view isa_name(KernelIsa isa);

// Roundings a product may pass through in an n-term dot product (see the contract above).
constexpr std::size_t k_accumulation_depth(std::size_t n) { return (n + 7) / 8 + 32; }

struct KernelOptions {
  KernelIsa isa = KernelIsa::k_auto;  // a specific variant the CPU lacks is an error
  RowThreads* threads = nullptr;      // split rows over these; null = the calling thread only
};

// y = expert(x) for `tokens` tokens. Fails on an inconsistent view (shapes, null or
// misaligned matrices), tokens == 0, or x / y not tokens * hidden floats.
Expected<void, ExecError> run_expert(const ExpertView& expert, std::span<const float> x, std::size_t tokens,
                                     std::span<float> y, const KernelOptions& options = {});

// Several experts of one layer in one call: each job has its own tokens and output.
struct ExpertJob {
  ExpertView expert;
  std::span<const float> x;  // tokens x hidden
  std::size_t tokens = 0;
  std::span<float> y;  // tokens x hidden
};
// Runs the jobs in order; stops at the first invalid job and names it.
Expected<void, ExecError> run_experts(std::span<const ExpertJob> jobs, const KernelOptions& options = {});

// The MoE combination: y[t] = Σ_e weights[t * experts + e] · outputs[(e * tokens + t) * hidden ...]
// for outputs of `experts` experts on the same `tokens` tokens (layout [expert][token][hidden])
// and gate weights per token (layout [token][expert], as a router emits them). Accumulates in
// fp32 in expert order.
Expected<void, ExecError> gate_weighted_sum(std::span<const float> outputs, std::size_t experts, std::size_t tokens,
                                            std::size_t hidden, std::span<const float> weights, std::span<float> y);

}  // namespace slimcache::agent::exec
