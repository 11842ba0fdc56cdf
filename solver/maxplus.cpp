#include "solver/maxplus.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace slimcache::solver {

void make_staircase(std::vector<double>& profile) {
  double best = 0.0;
  for (double& v : profile) {
    best = std::max(best, v);
    v = best;
  }
}

Combination combine_exact(std::span<const std::vector<double>> profiles, std::size_t capacity) {
  const std::size_t L = profiles.size();
  Combination out;
  out.units.assign(L, 0);
  out.used_exact_dp = true;
  std::vector<double> cur(capacity + 1, 0.0), next(capacity + 1);
  std::vector<std::uint32_t> choice(L * (capacity + 1), 0);
  for (std::size_t l = 0; l < L; ++l) {
    const auto& g = profiles[l];
    const std::size_t len = g.size();
    for (std::size_t c = 0; c <= capacity; ++c) {
      double best = cur[c] + (len > 0 ? g[0] : 0.0);
      std::uint32_t arg = 0;
      const std::size_t kmax = std::min(c, len == 0 ? 0 : len - 1);
      for (std::size_t k = 1; k <= kmax; ++k) {
        const double v = cur[c - k] + g[k];
        if (v > best) {
          best = v;
          arg = static_cast<std::uint32_t>(k);
        }
      }
      next[c] = best;
      choice[l * (capacity + 1) + c] = arg;
    }
    std::swap(cur, next);
  }
  out.value = cur[capacity];
  out.upper_bound = out.value;
  std::size_t c = capacity;
  for (std::size_t l = L; l-- > 0;) {
    out.units[l] = choice[l * (capacity + 1) + c];
    c -= out.units[l];
  }
  return out;
}

namespace {

struct Segment {
  double slope;
  std::size_t layer, to, width;
  double gain;
};

// Upper concave hull vertices of (k, g[k]), k = 0..size-1, starting at 0.
std::vector<std::size_t> hull(const std::vector<double>& g) {
  std::vector<std::size_t> h;
  for (std::size_t k = 0; k < g.size(); ++k) {
    while (h.size() >= 2) {
      const std::size_t a = h[h.size() - 2], b = h.back();
      // remove b if it lies on or below the segment a -> k
      const double lhs = (g[b] - g[a]) * static_cast<double>(k - a);
      const double rhs = (g[k] - g[a]) * static_cast<double>(b - a);
      if (lhs <= rhs) h.pop_back();
      else break;
    }
    h.push_back(k);
  }
  return h;
}

// Repair: spend the `left` units on the real profiles, best single extension first (at most
// L rounds).
void spend_leftover(std::span<const std::vector<double>> profiles, Combination& out, std::size_t left) {
  const std::size_t L = profiles.size();
  for (std::size_t round = 0; round < L && left > 0; ++round) {
    double best_gain = 0.0;
    std::size_t best_layer = L, best_to = 0;
    for (std::size_t l = 0; l < L; ++l) {
      const auto& g = profiles[l];
      const std::size_t from = out.units[l];
      const std::size_t to = std::min(g.size() == 0 ? 0 : g.size() - 1, from + left);
      if (to > from && g[to] - g[from] > best_gain) {
        best_gain = g[to] - g[from];
        best_layer = l;
        best_to = to;
      }
    }
    if (best_layer == L) break;
    left -= best_to - out.units[best_layer];
    out.units[best_layer] = best_to;
    out.value += best_gain;
  }
}

// A coarse DP: the exact DP with units in blocks of b (every layer's points at multiples of
// b, at most k_coarse_cells blocks of capacity), then the leftover spent as above. A
// feasible allocation, usually within a few tenths of a percent of OPT on step-shaped
// profiles where the envelope greedy can lose tens of percent (a layer whose next hull
// segment does not fit gets nothing more). O(L * (C/b) * (P_l/b)) = O(L * k_coarse_cells^2).
constexpr std::size_t k_coarse_cells = 64;

Combination coarse_allocation(std::span<const std::vector<double>> profiles, std::size_t capacity) {
  const std::size_t L = profiles.size();
  const std::size_t b = std::max<std::size_t>(1, (capacity + k_coarse_cells - 1) / k_coarse_cells);
  std::vector<std::vector<double>> coarse(L);
  for (std::size_t l = 0; l < L; ++l)
    for (std::size_t k = 0; k < profiles[l].size(); k += b) coarse[l].push_back(profiles[l][k]);
  Combination out = combine_exact(coarse, capacity / b);
  std::size_t used = 0;
  out.value = 0.0;
  for (std::size_t l = 0; l < L; ++l) {
    out.units[l] *= b;
    used += out.units[l];
    out.value += profiles[l].empty() ? 0.0 : profiles[l][out.units[l]];
  }
  spend_leftover(profiles, out, capacity - used);
  return out;
}

}  // namespace

Combination combine_fast(std::span<const std::vector<double>> profiles, std::size_t capacity, double epsilon) {
  const std::size_t L = profiles.size();
  std::vector<Segment> segs;
  for (std::size_t l = 0; l < L; ++l) {
    const auto& g = profiles[l];
    if (g.size() < 2) continue;
    const auto h = hull(g);
    for (std::size_t i = 1; i < h.size(); ++i) {
      const double gain = g[h[i]] - g[h[i - 1]];
      if (gain <= 0.0) break;  // the envelope is flat from here on
      segs.push_back({gain / static_cast<double>(h[i] - h[i - 1]), l, h[i], h[i] - h[i - 1], gain});
    }
  }
  std::stable_sort(segs.begin(), segs.end(), [](const Segment& a, const Segment& b) { return a.slope > b.slope; });
  Combination out;
  out.units.assign(L, 0);
  for (std::size_t l = 0; l < L; ++l) out.value += profiles[l].empty() ? 0.0 : profiles[l][0];
  std::size_t left = capacity;
  double bound = out.value;
  std::vector<std::uint8_t> blocked(L, 0);  // a layer whose next segment did not fit stops
  bool fractional_seen = false;
  std::size_t fractional_layer = L;
  for (const auto& s : segs) {
    if (blocked[s.layer]) continue;
    if (s.width <= left) {
      out.units[s.layer] = s.to;
      out.value += s.gain;
      left -= s.width;
      if (!fractional_seen) bound += s.gain;
    } else {
      if (!fractional_seen) {
        bound += s.slope * static_cast<double>(left);
        fractional_seen = true;
        fractional_layer = s.layer;
      }
      blocked[s.layer] = 1;
    }
  }
  // Swap repair: for the first few segments that did not fit, try making room by giving
  // back the flattest last-taken segments of other layers; keep it when it pays.
  std::size_t tries = 0;
  for (const auto& s : segs) {
    if (tries >= 8) break;
    if (out.units[s.layer] >= s.to || out.units[s.layer] + s.width != s.to) continue;  // not the next segment
    if (s.width <= left) continue;
    ++tries;
    std::vector<std::size_t> units = out.units;
    double value = out.value;
    std::size_t room = left;
    // give back whole hull segments, flattest first, never from s.layer
    for (auto it = segs.rbegin(); it != segs.rend() && room < s.width; ++it) {
      if (it->layer == s.layer || units[it->layer] != it->to) continue;
      units[it->layer] = it->to - it->width;
      value -= it->gain;
      room += it->width;
    }
    if (room < s.width) continue;
    units[s.layer] = s.to;
    value += s.gain;
    if (value > out.value) {
      out.units = std::move(units);
      out.value = value;
      left = room - s.width;
    }
  }
  spend_leftover(profiles, out, left);
  out.upper_bound = std::max(bound, out.value);
  if (out.value >= (1.0 - epsilon) * out.upper_bound) return out;
  // The greedy's answer failed the certificate: try the coarse DP's, which is often much
  // better on non-concave profiles (and raises the pruned DP's target below).
  if (Combination coarse = coarse_allocation(profiles, capacity); coarse.value > out.value) {
    out.units = std::move(coarse.units);
    out.value = coarse.value;
    out.upper_bound = std::max(out.upper_bound, out.value);
    if (out.value >= (1.0 - epsilon) * out.upper_bound) return out;
  }
  // A tighter bound: branch on the layer the LP takes fractionally. OPT gives that layer
  // some k units and the others at most their LP bound with C - k units, so
  //   UB2 = max_k g_f(k) + LP_{-f}(C - k)  >=  OPT,   O(|g_f| log P).
  if (fractional_layer < L) {
    std::vector<double> cum_w{0.0}, cum_v{0.0}, slope;
    for (const auto& sg : segs) {
      if (sg.layer == fractional_layer) continue;
      cum_w.push_back(cum_w.back() + static_cast<double>(sg.width));
      cum_v.push_back(cum_v.back() + sg.gain);
      slope.push_back(sg.slope);
    }
    double base0 = 0.0;
    for (std::size_t l = 0; l < L; ++l)
      if (l != fractional_layer && !profiles[l].empty()) base0 += profiles[l][0];
    auto lp_others = [&](double cap) {
      const std::size_t j =
          static_cast<std::size_t>(std::upper_bound(cum_w.begin(), cum_w.end(), cap) - cum_w.begin()) - 1;
      double v = cum_v[j];
      if (j < slope.size()) v += slope[j] * (cap - cum_w[j]);
      return base0 + v;
    };
    const auto& gf = profiles[fractional_layer];
    double ub2 = 0.0;
    for (std::size_t k = 0; k < gf.size() && k <= capacity; ++k)
      ub2 = std::max(ub2, gf[k] + lp_others(static_cast<double>(capacity - k)));
    out.upper_bound = std::max(std::min(out.upper_bound, ub2), out.value);
    if (out.value >= (1.0 - epsilon) * out.upper_bound) return out;
  }
  // Second stage: the DP over the points that can still matter (reduced-cost fixing).
  // A layer l given k units caps every allocation at g_l(k) + LP_{-l}(C - k) (the LP bound
  // of the other layers). Points whose cap is below target = value / (1 - eps), and points
  // where the staircase is flat (g_l(k) = g_l(k-1): k - 1 is as good with less), are
  // dropped; the current units of each layer are always kept. Every allocation worth more
  // than the target uses kept points only, so the DP over them returns at least
  // min(OPT, target) and at least value: in both cases >= (1 - eps) * OPT.
  // O(L * (S + C)) for the caps, O(C * sum_l |kept_l|) for the DP.
  {
    const double target = epsilon > 0.0 && epsilon < 1.0 ? out.value / (1.0 - epsilon) : out.value;
    const double slack = 1e-12 * std::max(1.0, std::abs(target));  // rounding of the sums below
    std::vector<std::vector<std::size_t>> cand(L);
    std::vector<double> lp(capacity + 1);
    double base_all = 0.0;
    for (std::size_t l = 0; l < L; ++l) base_all += profiles[l].empty() ? 0.0 : profiles[l][0];
    for (std::size_t l = 0; l < L; ++l) {
      const auto& g = profiles[l];
      if (g.empty()) {
        cand[l] = {0};
        continue;
      }
      // lp[c] = LP bound of the layers other than l with c units (their envelope segments
      // by decreasing slope, the last one fractional).
      double v = base_all - g[0];
      std::size_t w = 0;
      lp[0] = v;
      for (const auto& sg : segs) {
        if (w >= capacity) break;
        if (sg.layer == l) continue;
        for (std::size_t i = 1; i <= sg.width && w + i <= capacity; ++i) lp[w + i] = v + sg.slope * static_cast<double>(i);
        w += sg.width;
        v += sg.gain;
      }
      for (std::size_t c = w + 1; c <= capacity; ++c) lp[c] = v;
      for (std::size_t k = 0; k < g.size() && k <= capacity; ++k) {
        const bool flat = k > 0 && !(g[k] > g[k - 1]);
        if (k == out.units[l] || (!flat && g[k] + lp[capacity - k] >= target - slack)) cand[l].push_back(k);
      }
    }
    constexpr double k_none = -std::numeric_limits<double>::infinity();
    std::vector<double> cur(capacity + 1, 0.0), next(capacity + 1);
    std::vector<std::uint32_t> choice(L * (capacity + 1), 0);
    // Windows (same values and choices, less work): after layer l only c >= C - rest[l + 1]
    // is ever read (rest[l] = the largest kept points of layers l.. summed), and G_l is flat
    // from reach_l (the largest kept points of layers ..l summed) on, with the same choice,
    // since every kept point then fits. cand[l] is ascending and never empty (it keeps the
    // current units).
    std::vector<std::size_t> rest(L + 1, 0);
    for (std::size_t l = L; l-- > 0;) rest[l] = rest[l + 1] + cand[l].back();
    std::size_t reach = 0;
    for (std::size_t l = 0; l < L; ++l) {
      const auto& g = profiles[l];
      reach += cand[l].back();
      const std::size_t hi = std::min(capacity, reach);
      const std::size_t lo = std::min(hi, capacity > rest[l + 1] ? capacity - rest[l + 1] : 0);
      for (std::size_t c = lo; c <= hi; ++c) {
        double best = k_none;
        std::uint32_t arg = 0;
        for (const std::size_t k : cand[l]) {
          if (k > c) break;  // cand is ascending
          const double val = cur[c - k] + (g.empty() ? 0.0 : g[k]);
          if (val > best) {
            best = val;
            arg = static_cast<std::uint32_t>(k);
          }
        }
        next[c] = best;
        choice[l * (capacity + 1) + c] = arg;
      }
      for (std::size_t c = hi + 1; c <= capacity; ++c) {
        next[c] = next[hi];
        choice[l * (capacity + 1) + c] = choice[l * (capacity + 1) + hi];
      }
      std::swap(cur, next);
    }
    out.used_exact_dp = true;
    if (cur[capacity] > out.value) {
      std::size_t c = capacity;
      for (std::size_t l = L; l-- > 0;) {
        out.units[l] = choice[l * (capacity + 1) + c];
        c -= out.units[l];
      }
      out.value = cur[capacity];
    }
  }
  return out;
}

}  // namespace slimcache::solver
