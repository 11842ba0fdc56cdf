// slimcache-solver-bench: the speed targets of issue 3, measured single-threaded.
// Build Release. Prints one line per point: algorithm, instance, solve time, reduction.
//   slimcache-solver-bench [--quick]
#include <chrono>
#include <cstdio>
#include <cstring>
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

double run(const Problem& p, Algorithm a, SolveResult& out) {
  const auto t0 = std::chrono::steady_clock::now();
  auto r = solve(p, a);
  const auto t1 = std::chrono::steady_clock::now();
  if (!r) {
    std::printf("  %s failed: %s\n", std::string(algorithm_name(a)).c_str(), r.error().message.c_str());
    return -1.0;
  }
  out = *r;
  return std::chrono::duration<double>(t1 - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const bool quick = argc > 1 && std::strcmp(argv[1], "--quick") == 0;
  const Point points[] = {
      {"deepseek-v3", 16, 4, 1024, 0.5},
      {"qwen3-30b-a3b", 8, 2, 1024, 0.5},
      {"qwen3-30b-a3b", 8, 2, 1024, 0.25},
  };
  std::printf("%-16s %5s %7s %7s %8s  %-10s %12s %14s %s\n", "model", "nodes", "clients", "samples", "fraction",
              "algorithm", "solve_ms", "reduction_ms", "note");
  for (const auto& pt : points) {
    GeneratorOptions g;
    g.nodes = pt.nodes;
    g.clients = pt.clients;
    g.samples_per_layer = pt.samples;
    g.budget_fraction = pt.fraction;
    g.seed = 1;
    auto in = generate_instance(*find_model_preset(pt.model), g);
    auto p = build_problem(*in);
    for (Algorithm a : {Algorithm::sgd_fast, Algorithm::sgd}) {
      if (quick && a == Algorithm::sgd) continue;
      SolveResult r;
      const double s = run(*p, a, r);
      std::printf("%-16s %5zu %7zu %7zu %8.2f  %-10s %12.1f %14.4f %s\n", pt.model, pt.nodes, pt.clients, pt.samples,
                  pt.fraction, std::string(algorithm_name(a)).c_str(), s * 1e3, r.reduction_s * 1e3, r.note.c_str());
    }
  }
  return 0;
}
