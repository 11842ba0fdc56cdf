// Fuzz target: the placement values peers publish through gossip (agent/placement/wire.hpp).
// The first byte picks the decoder; decoded values must respect the shape and re-encode.
#include <cstdint>
#include <string_view>

#include "agent/placement/wire.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace slimcache::agent::placement;
  if (size == 0) return 0;
  const ModelShape shape{4, 8, 2};
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      if (auto v = decode_stats(text, shape)) {
        for (const auto& l : v->layers)
          for (const auto id : l.sets)
            if (id >= shape.experts) __builtin_trap();
        (void)encode(*v, 64);
      }
      break;
    case 1:
      if (auto v = decode_epoch(text)) (void)encode(*v);
      break;
    case 2:
      if (auto v = decode_placement(text, shape)) {
        for (const auto g : v->experts)
          if (g >= shape.total()) __builtin_trap();
        (void)encode(*v);
      }
      break;
    default:
      if (auto v = decode_holdings(text, shape)) {
        auto again = decode_holdings(encode(*v, shape), shape);
        if (!again || again->experts != v->experts) __builtin_trap();
      }
  }
  return 0;
}
