// slimcache-solver-bench: the speed targets of issue 3, measured single-threaded.
// Build Release. For each point prints the best of `--repeat` runs (default 3) of the
// wall-clock and process-CPU solve time, and the reduction.
//   slimcache-solver-bench [--quick] [--repeat R]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

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
  int repeat = 3;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    else if (std::strcmp(argv[i], "--repeat") == 0 && i + 1 < argc) repeat = std::atoi(argv[++i]);
  }
  const Point points[] = {
      {"deepseek-v3", 16, 4, 1024, 0.5},
      {"qwen3-30b-a3b", 8, 2, 1024, 0.5},
      {"qwen3-30b-a3b", 8, 2, 1024, 0.25},
      {"olmoe-1b-7b", 8, 2, 1024, 0.5},
  };
  std::printf("%-14s %5s %7s %7s %8s  %-9s %10s %10s %14s  %s\n", "model", "nodes", "clients", "samples", "fraction",
              "algorithm", "wall_ms", "cpu_ms", "reduction_ms", "note");
  for (const auto& pt : points) {
    GeneratorOptions g;
    g.nodes = pt.nodes;
    g.clients = pt.clients;
    g.samples_per_layer = pt.samples;
    g.budget_fraction = pt.fraction;
    g.seed = 1;
    auto in = generate_instance(*find_model_preset(pt.model), g);
    auto p = build_problem(*in);
    double fast_red = 0.0, fast_cpu = 0.0;
    for (Algorithm a : {Algorithm::sgd_fast, Algorithm::sgd}) {
      if (quick && a == Algorithm::sgd) continue;
      double best_wall = 1e300, best_cpu = 1e300;
      SolveResult r;
      for (int k = 0; k < repeat; ++k) {
        const auto w0 = std::chrono::steady_clock::now();
        const std::clock_t c0 = std::clock();
        auto res = solve(*p, a);
        const std::clock_t c1 = std::clock();
        const auto w1 = std::chrono::steady_clock::now();
        if (!res) return 1;
        r = *res;
        best_wall = std::min(best_wall, std::chrono::duration<double, std::milli>(w1 - w0).count());
        best_cpu = std::min(best_cpu, 1e3 * static_cast<double>(c1 - c0) / CLOCKS_PER_SEC);
      }
      std::printf("%-14s %5zu %7zu %7zu %8.2f  %-9s %10.1f %10.1f %14.4f  %s\n", pt.model, pt.nodes, pt.clients,
                  pt.samples, pt.fraction, std::string(algorithm_name(a)).c_str(), best_wall, best_cpu,
                  r.reduction_s * 1e3, r.note.c_str());
      if (a == Algorithm::sgd_fast) {
        fast_red = r.reduction_s;
        fast_cpu = best_cpu;
      } else {
        std::printf("%-14s   sgd-fast/sgd: reduction %.5f, speed-up %.2fx (cpu)\n", pt.model,
                    r.reduction_s > 0 ? fast_red / r.reduction_s : 1.0, fast_cpu > 0 ? best_cpu / fast_cpu : 0.0);
      }
      std::fflush(stdout);
    }
  }
  return 0;
}
