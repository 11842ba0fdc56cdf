#include "solver/maxplus.hpp"

#include <algorithm>
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
  // Repair: spend the leftover on the real profiles, best single extension first.
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
  out.upper_bound = std::max(bound, out.value);
  if (out.value >= (1.0 - epsilon) * out.upper_bound) return out;
  // Second stage: the DP restricted to each layer's hull vertices (plus the point chosen
  // above), O(L * C * V) for V vertices per layer; exact DP only if this still fails.
  {
    std::vector<double> cur(capacity + 1, 0.0), next(capacity + 1);
    std::vector<std::vector<std::size_t>> cand(L);
    std::vector<std::uint32_t> choice(L * (capacity + 1), 0);
    for (std::size_t l = 0; l < L; ++l) {
      const auto& g = profiles[l];
      if (g.empty()) {
        cand[l] = {0};
      } else {
        cand[l] = hull(g);
        if (std::find(cand[l].begin(), cand[l].end(), out.units[l]) == cand[l].end()) cand[l].push_back(out.units[l]);
      }
      for (std::size_t c = 0; c <= capacity; ++c) {
        double best = -1.0;
        std::uint32_t arg = 0;
        for (std::size_t i = 0; i < cand[l].size(); ++i) {
          const std::size_t k = cand[l][i];
          if (k > c) continue;
          const double v = cur[c - k] + (g.empty() ? 0.0 : g[k]);
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
    if (cur[capacity] > out.value) {
      std::size_t c = capacity;
      for (std::size_t l = L; l-- > 0;) {
        out.units[l] = choice[l * (capacity + 1) + c];
        c -= out.units[l];
      }
      out.value = cur[capacity];
    }
    if (out.value >= (1.0 - epsilon) * out.upper_bound) return out;
  }
  Combination exact = combine_exact(profiles, capacity);
  exact.upper_bound = out.upper_bound;
  return exact;
}

}  // namespace slimcache::solver
