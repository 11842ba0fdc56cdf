// Writes a small OLMoE-shaped checkpoint (model/checkpoint_writer.hpp) for the reliability
// scripts: make_checkpoint DIR [LAYERS EXPERTS]  (hidden 64, ffn 32, bf16, 2 shards).
#include <cstdio>
#include <cstdlib>

#include "agent/model/checkpoint_writer.hpp"

int main(int argc, char** argv) {
  if (argc != 2 && argc != 4) {
    std::fprintf(stderr, "usage: make_checkpoint DIR [LAYERS EXPERTS]\n");
    return 2;
  }
  using namespace slimcache::agent::model;
  CheckpointSpec spec{Family::k_olmoe, 4, 16, 2, 64, 32, 2, slimcache::config::DType::k_bf16};
  if (argc == 4) {
    spec.layers = static_cast<std::uint32_t>(std::atoi(argv[2]));
    spec.experts = static_cast<std::uint32_t>(std::atoi(argv[3]));
  }
  const auto tensors = write_checkpoint(argv[1], spec);
  std::printf("wrote %zu expert tensors to %s\n", tensors.size(), argv[1]);
  return 0;
}
