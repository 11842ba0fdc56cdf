#pragma once
// The values a node publishes through gossip for decentralised placement (MODEL.md 3.5).
// Each is a small JSON document under one gossip state key; the gossip layer carries large
// values in bounded chunks (GossipConfig::state_chunk_size), so a value's size is bounded
// only by what we put in it:
//   "placement.stats"    ClientStatsValue: this node's engine statistics, decayed, with at most
//                        `max_sets_per_layer` sampled top-K sets per layer (the heaviest).
//   "placement.epoch"    EpochValue: the newest epoch this node started or follows.
//   "placement"          PlacementValue: the experts this node decided to hold in an epoch.
//   "placement.holdings" HoldingsValue: the experts verified on this node's disk (a bitmap),
//                        whether it is the origin, its transfer and execution ports.
// Decoders accept any bytes: malformed, oversized or out-of-range input is an error naming
// the field, never a crash (fuzzed: tests/fuzz/fuzz_placement_wire.cpp).
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "solver/expected.hpp"
#include "solver/instance.hpp"

namespace slimcache::agent::placement {

inline constexpr std::string_view k_key_stats = "placement.stats";
inline constexpr std::string_view k_key_epoch = "placement.epoch";
inline constexpr std::string_view k_key_placement = "placement";
inline constexpr std::string_view k_key_holdings = "placement.holdings";

// Shape every decoded value is checked against (from the model manifest).
struct ModelShape {
  std::uint32_t layers = 0;
  std::uint32_t experts = 0;  // per layer
  std::uint32_t top_k = 0;
  [[nodiscard]] std::uint32_t total() const { return layers * experts; }
};

struct ClientStatsValue {
  double tokens_per_s = 0.0;                // the client's weight lambda_u
  std::vector<solver::LayerStats> layers;   // one per layer
};

struct EpochValue {
  std::uint64_t epoch = 0;
  std::string cause;
};

struct PlacementValue {
  std::uint64_t epoch = 0;
  std::string digest;                  // the epoch's inputs digest as this node saw them
  std::vector<std::uint32_t> experts;  // global ids (layer * experts + expert), sorted
  double gain_s = 0.0;                 // the node step's gain J(B_n), seconds per token
  double solve_ms = 0.0;
};

struct HoldingsValue {
  std::vector<std::uint32_t> experts;  // global ids, sorted
  bool origin = false;
  std::uint16_t transfer_port = 0;
  std::uint16_t execution_port = 0;
};

struct WireError {
  std::string message;
};

[[nodiscard]] std::string encode(const ClientStatsValue& v, std::size_t max_sets_per_layer);
[[nodiscard]] std::string encode(const EpochValue& v);
[[nodiscard]] std::string encode(const PlacementValue& v);
[[nodiscard]] std::string encode(const HoldingsValue& v, const ModelShape& shape);

[[nodiscard]] Expected<ClientStatsValue, WireError> decode_stats(std::string_view text, const ModelShape& shape);
[[nodiscard]] Expected<EpochValue, WireError> decode_epoch(std::string_view text);
[[nodiscard]] Expected<PlacementValue, WireError> decode_placement(std::string_view text, const ModelShape& shape);
[[nodiscard]] Expected<HoldingsValue, WireError> decode_holdings(std::string_view text, const ModelShape& shape);

}  // namespace slimcache::agent::placement
