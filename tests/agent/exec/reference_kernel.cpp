#include "tests/agent/exec/reference_kernel.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>

#include "agent/exec/expert_kernel.hpp"

namespace slimcache::agent::exec::testing {
namespace {

constexpr double k_unit_roundoff = 1.0 / 16777216.0;  // 2^-24

double gamma_for(std::size_t n) {
  const double d = static_cast<double>(k_accumulation_depth(n) + 1);
  return d * k_unit_roundoff / (1.0 - d * k_unit_roundoff);
}

}  // namespace

double weight_at(const ExpertView& expert, const MatrixView& m, std::size_t row, std::size_t col) {
  const std::size_t index = row * m.cols + col;
  if (expert.dtype == WeightDtype::k_f32) {
    float v;
    std::memcpy(&v, m.data + 4 * index, 4);
    return v;
  }
  std::uint16_t bits;
  std::memcpy(&bits, m.data + 2 * index, 2);
  return expert.dtype == WeightDtype::k_bf16 ? bf16_to_f32(bits) : f16_to_f32(bits);
}

ReferenceOutput reference_expert(const ExpertView& e, std::span<const float> x, std::size_t tokens) {
  const std::size_t hidden = e.hidden;
  const std::size_t ffn = e.ffn;
  const double u = k_unit_roundoff;
  const double gamma_h = gamma_for(hidden);
  const double gamma_f = gamma_for(ffn);
  const bool swiglu = e.kind == ExpertKind::k_swiglu;
  ReferenceOutput out;
  out.y.assign(tokens * hidden, 0.0);
  out.bound.assign(tokens * hidden, 0.0);
  std::vector<double> h(ffn);
  std::vector<double> eh(ffn);
  for (std::size_t t = 0; t < tokens; ++t) {
    const float* xt = x.data() + t * hidden;
    for (std::size_t f = 0; f < ffn; ++f) {
      double g = 0, sg = 0, up = 0, su = 0;
      for (std::size_t c = 0; c < hidden; ++c) {
        const double wg = weight_at(e, e.gate, f, c);
        g += wg * xt[c];
        sg += std::fabs(wg * xt[c]);
        if (swiglu) {
          const double wu = weight_at(e, e.up, f, c);
          up += wu * xt[c];
          su += std::fabs(wu * xt[c]);
        }
      }
      const double eg = gamma_h * sg;
      if (swiglu) {
        const double eu = gamma_h * su;
        const double s = g / (1.0 + std::exp(-g));
        const double es = 1.1 * eg + 5 * u * (std::fabs(s) + 1.1 * eg);
        h[f] = s * up;
        eh[f] = (std::fabs(s) + es) * eu + std::fabs(up) * es + u * (std::fabs(s) + es) * (std::fabs(up) + eu);
      } else {
        h[f] = g > 0 ? g : 0.0;
        eh[f] = eg;
      }
    }
    for (std::size_t i = 0; i < hidden; ++i) {
      double y = 0, spread = 0, propagated = 0;
      for (std::size_t f = 0; f < ffn; ++f) {
        const double wd = weight_at(e, e.down, i, f);
        y += wd * h[f];
        spread += std::fabs(wd) * (std::fabs(h[f]) + eh[f]);
        propagated += std::fabs(wd) * eh[f];
      }
      out.y[t * hidden + i] = y;
      out.bound[t * hidden + i] = gamma_f * spread + propagated + 1e-30;
    }
  }
  return out;
}

}  // namespace slimcache::agent::exec::testing
