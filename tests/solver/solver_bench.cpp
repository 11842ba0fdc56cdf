// slimcache-solver-bench: the speed targets of issue 3, measured single-threaded.
// Build Release. For each point prints the minimum and the median over `--repeat` runs
// (default 5) of the wall-clock and process-CPU solve time, and the reduction; then the
// sgd-fast/sgd reduction ratio and CPU speed-up (on the minima and on the medians).
// Per algorithm also the node steps and the median time of their cross-layer combinations
// (the only part where sgd-fast's accelerated (max,+) convolution differs from sgd's DP),
// and per point the ceiling that bounds any faster combination (Amdahl):
//   ceiling = sgd's wall time / (sgd-fast's wall time - sgd-fast's combination time),
// the speed-up sgd-fast would have if its combination took no time at all (medians).
// The deepseek-v3 16-node points of the report grid (2 clients, 256 sets) come last.
//   slimcache-solver-bench [--quick] [--repeat R] [--only MODEL]   (--only: the points of one preset)
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>
#include <vector>
#include <algorithm>

#include "solver/algorithms.hpp"
#include "solver/synthetic.hpp"

using namespace slimcache::solver;

namespace {

struct Point {
  const char* model;
  std::size_t nodes, clients, samples;
  double fraction;
};

}  // namespace

int main(int argc, char** argv) {
  bool quick = false;
  int repeat = 5;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = std::atoi(argv[++i]);
    else if (std::strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
    else {
      std::fprintf(stderr, "slimcache-solver-bench: unknown argument '%s' (--quick, --repeat R, --only MODEL)\n", argv[i]);
      return 2;
    }
  }
  const Point points[] = {
      {"deepseek-v3", 16, 4, 1024, 0.5},
      {"qwen3-30b-a3b", 8, 2, 1024, 0.5},
      {"qwen3-30b-a3b", 8, 2, 1024, 0.25},
      {"olmoe-1b-7b", 8, 2, 1024, 0.5},
      {"deepseek-v3", 16, 2, 256, 0.1},
      {"deepseek-v3", 16, 2, 256, 0.25},
      {"deepseek-v3", 16, 2, 256, 0.5},
      {"deepseek-v3", 16, 2, 256, 1.0},
  };
  std::printf("%-14s %5s %7s %7s %8s  %-9s %9s %9s %9s %9s %14s %6s %11s  %s\n", "model", "nodes", "clients",
              "samples", "fraction", "algorithm", "wall_min", "wall_med", "cpu_min", "cpu_med", "reduction_ms", "steps",
              "combine_med", "note");
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    const std::size_t n = v.size();
    return n == 0 ? 0.0 : (n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]));
  };
  for (const auto& pt : points) {
    if (!only.empty() && only != pt.model) continue;
    GeneratorOptions g;
    g.nodes = pt.nodes;
    g.clients = pt.clients;
    g.samples_per_layer = pt.samples;
    g.budget_fraction = pt.fraction;
    g.seed = 1;
    auto in = generate_instance(*find_model_preset(pt.model), g);
    auto p = build_problem(*in);
    double fast_red = 0.0, fast_min = 0.0, fast_med = 0.0, fast_wall_med = 0.0, fast_combine_med = 0.0;
    for (Algorithm a : {Algorithm::sgd_fast, Algorithm::sgd}) {
      if (quick && a == Algorithm::sgd) continue;
      std::vector<double> walls, cpus, combines;
      SolveResult r;
      for (int k = 0; k < repeat; ++k) {
        const auto w0 = std::chrono::steady_clock::now();
        const std::clock_t c0 = std::clock();
        auto res = solve(*p, a);
        const std::clock_t c1 = std::clock();
        const auto w1 = std::chrono::steady_clock::now();
        if (!res) return 1;
        r = *res;
        walls.push_back(std::chrono::duration<double, std::milli>(w1 - w0).count());
        cpus.push_back(1e3 * static_cast<double>(c1 - c0) / CLOCKS_PER_SEC);
        combines.push_back(1e3 * res->combine_seconds);
      }
      const double cpu_min = *std::min_element(cpus.begin(), cpus.end()), cpu_med = median(cpus);
      const double wall_med = median(walls), combine_med = median(combines);
      std::printf("%-14s %5zu %7zu %7zu %8.2f  %-9s %9.1f %9.1f %9.1f %9.1f %14.4f %6zu %11.1f  %s\n", pt.model,
                  pt.nodes, pt.clients, pt.samples, pt.fraction, std::string(algorithm_name(a)).c_str(),
                  *std::min_element(walls.begin(), walls.end()), wall_med, cpu_min, cpu_med, r.reduction_s * 1e3,
                  r.node_steps, combine_med, r.note.c_str());
      if (a == Algorithm::sgd_fast) {
        fast_red = r.reduction_s;
        fast_min = cpu_min;
        fast_med = cpu_med;
        fast_wall_med = wall_med;
        fast_combine_med = combine_med;
      } else {
        const double rest = fast_wall_med - fast_combine_med;
        std::printf("%-14s   sgd-fast/sgd: reduction %.5f, cpu speed-up %.2fx (minima) %.2fx (medians); "
                    "combination %.1f%% of sgd, %.1f%% of sgd-fast; ceiling with a free combination %.2fx\n",
                    pt.model, r.reduction_s > 0 ? fast_red / r.reduction_s : 1.0, fast_min > 0 ? cpu_min / fast_min : 0.0,
                    fast_med > 0 ? cpu_med / fast_med : 0.0, wall_med > 0 ? 100.0 * combine_med / wall_med : 0.0,
                    fast_wall_med > 0 ? 100.0 * fast_combine_med / fast_wall_med : 0.0, rest > 0 ? wall_med / rest : 0.0);
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
