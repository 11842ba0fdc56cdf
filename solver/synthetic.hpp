#pragma once
// Instance generation for benchmarks, tests and `slimctl instance generate`.
//
// Edge profile (defaults; all overridable): nodes alternate between a Jetson-Orin-class
// device (executes an expert at 50 GB/s of weights) and a Raspberry-Pi-5-class device
// (8 GB/s); the first half of the nodes is on Ethernet (0.5 ms RTT, 1 Gbit/s), the rest
// on Wi-Fi (4 ms RTT, 100 Mbit/s); a client-node link takes the worse of the two ends,
// times a seeded jitter in [1 - j, 1 + j]. Client u runs on node u (u < N), else it is a
// standalone Wi-Fi device. Fallback D0 = expert bytes / 400 MB/s (loading from the
// client's own storage) + executing it on the client (Pi-class when standalone).
// Budgets: every node gets budget_fraction * (all routed experts' bytes) / N, so the
// fraction is the aggregate capacity relative to one copy of the model.
//
// Synthetic statistics: per layer, Zipf popularity with an exponent drawn in
// [zipf_min, zipf_max] over a random permutation of the experts, perturbed per client by
// a log-normal factor (sigma = client_skew); experts are grouped into co-activation
// groups of 2K; a sampled set starts from an anchor drawn by popularity and takes each
// further member from the anchor's group with probability `coactivation`, else from the
// whole layer (by popularity), without repetition. Deterministic for a given seed on
// every platform (SplitMix64).
#include <cstdint>
#include <optional>
#include <vector>

#include "solver/expected.hpp"
#include "solver/instance.hpp"
#include "solver/model_presets.hpp"
#include "solver/routing_trace.hpp"

namespace slimcache::solver {

struct EdgeProfile {
  double ethernet_rtt_s = 0.0005;
  double ethernet_bytes_per_s = 125e6;
  double wifi_rtt_s = 0.004;
  double wifi_bytes_per_s = 12.5e6;
  double fast_compute_bytes_per_s = 50e9;
  double slow_compute_bytes_per_s = 8e9;
  double fallback_bytes_per_s = 400e6;
  double jitter = 0.2;
};

struct GeneratorOptions {
  std::size_t nodes = 4;
  std::size_t clients = 1;
  double budget_fraction = 0.25;
  std::uint64_t seed = 1;
  std::size_t samples_per_layer = 256;  // sampled top-K sets per layer per client
  EdgeProfile profile;
  double zipf_min = 0.6, zipf_max = 1.2;
  double client_skew = 0.5;
  double coactivation = 0.6;
};

struct GeneratorError {
  std::string message;
};

// Without a trace: synthetic statistics. With a trace: the trace's tokens are split into
// `clients` contiguous chunks; each client's marginals count all its tokens and its sample
// is up to samples_per_layer sets (evenly spaced tokens). The trace must match the shape.
[[nodiscard]] Expected<Instance, GeneratorError> generate_instance(const ModelShape& shape,
                                                                   const GeneratorOptions& options,
                                                                   const RoutingTrace* trace = nullptr);

// Statistics of tokens [first, last) of a trace: marginals over all of them and up to
// `samples` sets from evenly spaced tokens. One LayerStats per layer.
[[nodiscard]] std::vector<LayerStats> stats_from_trace(const RoutingTrace& trace, std::size_t first,
                                                       std::size_t last, std::size_t samples);

}  // namespace slimcache::solver
