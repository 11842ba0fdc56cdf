#include "agent/exec/expert_kernel.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include <cmath>
#include <cstdint>
#include <string>

#include "agent/exec/dot_rows.hpp"

namespace slimcache::agent::exec {
namespace {

using detail::DotRowsArgs;
using detail::DotRowsFn;

Unexpected<ExecError> fail(std::string message) {
  return Unexpected(ExecError{ExecErrc::k_invalid_argument, std::move(message)});
}

#if defined(__x86_64__) || defined(__i386__)
// CPUID leaf 1, ECX bit 29 (clang's __builtin_cpu_supports does not know "f16c").
bool cpu_has_f16c() {
  unsigned eax = 0, ebx = 0, ecx = 0, edx = 0;
  return __get_cpuid(1, &eax, &ebx, &ecx, &edx) != 0 && (ecx & (1u << 29)) != 0;
}
#endif

bool cpu_has(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::k_auto:
    case KernelIsa::k_scalar: return true;
#if defined(__x86_64__) || defined(__i386__)
    case KernelIsa::k_avx2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c();
    case KernelIsa::k_avx512: return __builtin_cpu_supports("avx512f");
#else
    case KernelIsa::k_avx2:
    case KernelIsa::k_avx512: return false;
#endif
    case KernelIsa::k_neon:
#if defined(__aarch64__)
      return true;
#else
      return false;
#endif
  }
  return false;
}

DotRowsFn function_for(KernelIsa isa) {
  switch (isa) {
#if defined(__x86_64__) || defined(__i386__)
    case KernelIsa::k_avx2: return &detail::dot_rows_avx2;
    case KernelIsa::k_avx512: return &detail::dot_rows_avx512;
#endif
#if defined(__aarch64__)
    case KernelIsa::k_neon: return &detail::dot_rows_neon;
#endif
    default: return &detail::dot_rows_scalar;
  }
}

// The concrete variant to run (Expected<KernelIsa>, not of the function pointer: a
// function-pointer T trips -Wshadow inside Expected's constructor).
Expected<KernelIsa, ExecError> resolve(KernelIsa isa) {
  if (isa == KernelIsa::k_auto) isa = best_isa();
  if (!cpu_has(isa)) return fail("kernel variant " + std::string(isa_name(isa)) + " is not available on this CPU");
  return isa;
}

Expected<void, ExecError> check_matrix(const MatrixView& m, const char* name, std::uint32_t rows, std::uint32_t cols,
                                       std::size_t element) {
  if (m.rows != rows || m.cols != cols)
    return fail(std::string("matrix ") + name + " is " + std::to_string(m.rows) + "x" + std::to_string(m.cols) +
                ", expected " + std::to_string(rows) + "x" + std::to_string(cols));
  if (m.data == nullptr) return fail(std::string("matrix ") + name + " has no data");
  if (reinterpret_cast<std::uintptr_t>(m.data) % element != 0)
    return fail(std::string("matrix ") + name + " is not aligned to its " + std::to_string(element) + "-byte elements");
  return {};
}

Expected<void, ExecError> check_call(const ExpertView& e, std::span<const float> x, std::size_t tokens,
                                     std::span<float> y) {
  if (e.kind != ExpertKind::k_swiglu && e.kind != ExpertKind::k_two_matrix) return fail("unknown expert kind");
  const std::size_t element = dtype_size(e.dtype);
  if (element == 0) return fail("unknown weight dtype");
  if (e.hidden == 0 || e.ffn == 0) return fail("hidden and ffn must be positive");
  SLIM_TRY_VOID(check_matrix(e.gate, e.kind == ExpertKind::k_swiglu ? "gate" : "wi", e.ffn, e.hidden, element));
  if (e.kind == ExpertKind::k_swiglu) SLIM_TRY_VOID(check_matrix(e.up, "up", e.ffn, e.hidden, element));
  SLIM_TRY_VOID(check_matrix(e.down, e.kind == ExpertKind::k_swiglu ? "down" : "wo", e.hidden, e.ffn, element));
  if (tokens == 0) return fail("no tokens");
  if (tokens > SIZE_MAX / e.hidden / 2 || tokens > SIZE_MAX / e.ffn / 2) return fail("too many tokens");
  const std::size_t want = tokens * e.hidden;
  if (x.size() != want) return fail("x has " + std::to_string(x.size()) + " floats, expected tokens*hidden = " + std::to_string(want));
  if (y.size() != want) return fail("y has " + std::to_string(y.size()) + " floats, expected tokens*hidden = " + std::to_string(want));
  return {};
}

// Runs body(row_begin, row_end) over [0, rows) split into one part per thread.
template <class Body>
void for_row_parts(std::size_t rows, RowThreads* threads, const Body& body) {
  const std::size_t n = threads == nullptr ? 1 : threads->threads();
  if (n <= 1 || rows < 32) {
    body(std::size_t{0}, rows);
    return;
  }
  constexpr std::size_t k_row_granule = 16;
  std::size_t per_part = (rows + n - 1) / n;
  per_part = (per_part + k_row_granule - 1) / k_row_granule * k_row_granule;
  const std::size_t parts = (rows + per_part - 1) / per_part;
  threads->run(parts, [&](std::size_t p) {
    const std::size_t begin = p * per_part;
    const std::size_t end = begin + per_part < rows ? begin + per_part : rows;
    body(begin, end);
  });
}

float silu(float v) { return v / (1.0f + std::exp(-v)); }

void run_checked(DotRowsFn dot, const ExpertView& e, const float* x, std::size_t tokens, float* y,
                 RowThreads* threads) {
  const std::size_t hidden = e.hidden;
  const std::size_t ffn = e.ffn;
  const bool swiglu = e.kind == ExpertKind::k_swiglu;
  std::vector<float> h(tokens * ffn);
  std::vector<float> u(swiglu ? tokens * ffn : 0);

  DotRowsArgs first;
  first.dtype = e.dtype;
  first.cols = hidden;
  first.x = x;
  first.x_stride = hidden;
  first.tokens = tokens;
  first.out_stride = ffn;
  for_row_parts(ffn, threads, [&](std::size_t begin, std::size_t end) {
    DotRowsArgs a = first;
    a.row_begin = begin;
    a.row_end = end;
    a.weights = e.gate.data;
    a.out = h.data();
    dot(a);
    if (swiglu) {
      a.weights = e.up.data;
      a.out = u.data();
      dot(a);
    }
    for (std::size_t t = 0; t < tokens; ++t) {
      float* ht = h.data() + t * ffn;
      if (swiglu) {
        const float* ut = u.data() + t * ffn;
        for (std::size_t f = begin; f < end; ++f) ht[f] = silu(ht[f]) * ut[f];
      } else {
        for (std::size_t f = begin; f < end; ++f) ht[f] = ht[f] > 0.0f ? ht[f] : 0.0f;
      }
    }
  });

  DotRowsArgs second;
  second.weights = e.down.data;
  second.dtype = e.dtype;
  second.cols = ffn;
  second.x = h.data();
  second.x_stride = ffn;
  second.tokens = tokens;
  second.out = y;
  second.out_stride = hidden;
  for_row_parts(hidden, threads, [&](std::size_t begin, std::size_t end) {
    DotRowsArgs a = second;
    a.row_begin = begin;
    a.row_end = end;
    dot(a);
  });
}

}  // namespace

std::vector<KernelIsa> available_isas() {
  std::vector<KernelIsa> out{KernelIsa::k_scalar};
  for (KernelIsa isa : {KernelIsa::k_neon, KernelIsa::k_avx2, KernelIsa::k_avx512})
    if (cpu_has(isa)) out.push_back(isa);
  return out;
}

KernelIsa best_isa() {
  static const KernelIsa best = available_isas().back();
  return best;
}

std::string_view isa_name(KernelIsa isa) {
  switch (isa) {
    case KernelIsa::k_auto: return "auto";
    case KernelIsa::k_scalar: return "scalar";
    case KernelIsa::k_avx2: return "avx2";
    case KernelIsa::k_avx512: return "avx512";
    case KernelIsa::k_neon: return "neon";
  }
  return "?";
}

Expected<void, ExecError> run_expert(const ExpertView& expert, std::span<const float> x, std::size_t tokens,
                                     std::span<float> y, const KernelOptions& options) {
  SLIM_TRY(const KernelIsa isa, resolve(options.isa));
  SLIM_TRY_VOID(check_call(expert, x, tokens, y));
  run_checked(function_for(isa), expert, x.data(), tokens, y.data(), options.threads);
  return {};
}

Expected<void, ExecError> run_experts(std::span<const ExpertJob> jobs, const KernelOptions& options) {
  SLIM_TRY(const KernelIsa isa, resolve(options.isa));
  const DotRowsFn dot = function_for(isa);
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    const auto checked = check_call(jobs[i].expert, jobs[i].x, jobs[i].tokens, jobs[i].y);
    if (!checked) return fail("job " + std::to_string(i) + ": " + checked.error().message);
  }
  for (const auto& job : jobs) run_checked(dot, job.expert, job.x.data(), job.tokens, job.y.data(), options.threads);
  return {};
}

Expected<void, ExecError> gate_weighted_sum(std::span<const float> outputs, std::size_t experts, std::size_t tokens,
                                            std::size_t hidden, std::span<const float> weights, std::span<float> y) {
  if (experts == 0 || tokens == 0 || hidden == 0) return fail("experts, tokens and hidden must be positive");
  if (tokens > SIZE_MAX / hidden || experts > SIZE_MAX / (tokens * hidden) || experts > SIZE_MAX / tokens)
    return fail("sizes overflow");
  if (outputs.size() != experts * tokens * hidden)
    return fail("outputs has " + std::to_string(outputs.size()) + " floats, expected experts*tokens*hidden = " +
                std::to_string(experts * tokens * hidden));
  if (weights.size() != tokens * experts)
    return fail("weights has " + std::to_string(weights.size()) + " floats, expected tokens*experts = " +
                std::to_string(tokens * experts));
  if (y.size() != tokens * hidden)
    return fail("y has " + std::to_string(y.size()) + " floats, expected tokens*hidden = " + std::to_string(tokens * hidden));
  for (std::size_t t = 0; t < tokens; ++t) {
    float* yt = y.data() + t * hidden;
    for (std::size_t i = 0; i < hidden; ++i) yt[i] = 0.0f;
    for (std::size_t e = 0; e < experts; ++e) {
      const float g = weights[t * experts + e];
      const float* o = outputs.data() + (e * tokens + t) * hidden;
      for (std::size_t i = 0; i < hidden; ++i) yt[i] += g * o[i];
    }
  }
  return {};
}

}  // namespace slimcache::agent::exec
