#include "agent/placement/wire.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

namespace slimcache::agent::placement {

namespace {

using nlohmann::json;

// Four significant digits are plenty for statistics and keep the value small.
double round4(double v) {
  if (v == 0.0 || !std::isfinite(v)) return 0.0;
  const double scale = std::pow(10.0, 3 - std::floor(std::log10(std::fabs(v))));
  return std::round(v * scale) / scale;
}

Expected<json, WireError> parse(std::string_view text) {
  auto j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) return Unexpected(WireError{"not valid JSON"});
  if (!j.is_object()) return Unexpected(WireError{"not a JSON object"});
  return j;
}

Expected<double, WireError> number(const json& j, const char* key, double lo, double hi) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return Unexpected(WireError{std::string(key) + ": missing or not a number"});
  const double v = it->get<double>();
  if (!std::isfinite(v) || v < lo || v > hi) return Unexpected(WireError{std::string(key) + ": out of range"});
  return v;
}

Expected<std::vector<std::uint32_t>, WireError> id_list(const json& j, const char* key, std::uint32_t limit) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_array()) return Unexpected(WireError{std::string(key) + ": missing or not an array"});
  if (it->size() > limit) return Unexpected(WireError{std::string(key) + ": more ids than the model has experts"});
  std::vector<std::uint32_t> out;
  out.reserve(it->size());
  for (const auto& v : *it) {
    if (!v.is_number_unsigned() || v.get<std::uint64_t>() >= limit)
      return Unexpected(WireError{std::string(key) + ": id out of range"});
    out.push_back(v.get<std::uint32_t>());
  }
  std::sort(out.begin(), out.end());
  if (std::adjacent_find(out.begin(), out.end()) != out.end())
    return Unexpected(WireError{std::string(key) + ": repeated id"});
  return out;
}

const char* k_hex = "0123456789abcdef";

}  // namespace

std::string encode(const ClientStatsValue& v, std::size_t max_sets_per_layer) {
  json layers = json::array();
  for (const auto& l : v.layers) {
    const std::size_t k = l.weights.empty() ? 0 : l.sets.size() / l.weights.size();
    std::vector<std::size_t> order(l.weights.size());
    std::iota(order.begin(), order.end(), 0);
    // Heaviest sets first; ties by position so every encoder keeps the same ones.
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return l.weights[a] > l.weights[b]; });
    if (order.size() > max_sets_per_layer) order.resize(max_sets_per_layer);
    std::sort(order.begin(), order.end());
    json sets = json::array(), weights = json::array(), marginals = json::array();
    for (const std::size_t s : order) {
      sets.push_back(std::vector<solver::ExpertId>(l.sets.begin() + static_cast<std::ptrdiff_t>(s * k),
                                                   l.sets.begin() + static_cast<std::ptrdiff_t>((s + 1) * k)));
      weights.push_back(round4(l.weights[s]));
    }
    for (const double m : l.marginals) marginals.push_back(round4(m));
    layers.push_back({{"p", marginals}, {"s", sets}, {"w", weights}});
  }
  return json{{"v", 1}, {"rate", round4(v.tokens_per_s)}, {"layers", layers}}.dump();
}

std::string encode(const EpochValue& v) { return json{{"v", 1}, {"epoch", v.epoch}, {"cause", v.cause}}.dump(); }

std::string encode(const PlacementValue& v) {
  return json{{"v", 1},           {"epoch", v.epoch},          {"digest", v.digest},
              {"experts", v.experts}, {"gain_s", round4(v.gain_s)}, {"solve_ms", round4(v.solve_ms)}}
      .dump();
}

std::string encode(const HoldingsValue& v, const ModelShape& shape) {
  std::string bits((shape.total() + 3) / 4, '0');
  std::vector<std::uint8_t> nibbles(bits.size(), 0);
  for (const auto g : v.experts)
    if (g < shape.total()) nibbles[g / 4] |= static_cast<std::uint8_t>(1u << (g % 4));
  for (std::size_t i = 0; i < bits.size(); ++i) bits[i] = k_hex[nibbles[i]];
  return json{{"v", 1},
              {"bitmap", bits},
              {"origin", v.origin},
              {"transfer_port", v.transfer_port},
              {"execution_port", v.execution_port}}
      .dump();
}

Expected<ClientStatsValue, WireError> decode_stats(std::string_view text, const ModelShape& shape) {
  SLIM_TRY(auto j, parse(text));
  ClientStatsValue out;
  SLIM_TRY(auto rate, number(j, "rate", 0.0, 1e12));
  out.tokens_per_s = rate;
  const auto it = j.find("layers");
  if (it == j.end() || !it->is_array() || it->size() != shape.layers)
    return Unexpected(WireError{"layers: missing or not one entry per model layer"});
  for (std::size_t l = 0; l < it->size(); ++l) {
    const auto& lj = (*it)[l];
    const std::string where = "layers[" + std::to_string(l) + "]";
    if (!lj.is_object()) return Unexpected(WireError{where + ": not an object"});
    const auto p = lj.find("p"), s = lj.find("s"), w = lj.find("w");
    if (p == lj.end() || s == lj.end() || w == lj.end() || !p->is_array() || !s->is_array() || !w->is_array())
      return Unexpected(WireError{where + ": needs arrays p, s and w"});
    if (!p->empty() && p->size() != shape.experts) return Unexpected(WireError{where + ".p: not one value per expert"});
    if (s->size() != w->size()) return Unexpected(WireError{where + ": s and w differ in length"});
    solver::LayerStats ls;
    for (const auto& m : *p) {
      if (!m.is_number() || !std::isfinite(m.get<double>()) || m.get<double>() < 0.0 || m.get<double>() > 1.0)
        return Unexpected(WireError{where + ".p: not a probability"});
      ls.marginals.push_back(m.get<double>());
    }
    for (std::size_t i = 0; i < s->size(); ++i) {
      const auto& set = (*s)[i];
      if (!set.is_array() || set.size() != shape.top_k)
        return Unexpected(WireError{where + ".s: a set does not have top_k ids"});
      for (const auto& id : set) {
        if (!id.is_number_unsigned() || id.get<std::uint64_t>() >= shape.experts)
          return Unexpected(WireError{where + ".s: id out of range"});
        ls.sets.push_back(id.get<solver::ExpertId>());
      }
      const auto& wt = (*w)[i];
      if (!wt.is_number() || !std::isfinite(wt.get<double>()) || wt.get<double>() < 0.0)
        return Unexpected(WireError{where + ".w: not a non-negative number"});
      ls.weights.push_back(wt.get<double>());
    }
    out.layers.push_back(std::move(ls));
  }
  return out;
}

namespace {

// At most `max` bytes of `s`, cut at a character boundary: `s` came out of the JSON parser as
// valid UTF-8, and a cut through a character would make the value unencodable.
std::string bounded_text(const std::string& s, std::size_t max) {
  if (s.size() <= max) return s;
  std::size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xc0) == 0x80) --cut;
  return s.substr(0, cut);
}

}  // namespace

Expected<EpochValue, WireError> decode_epoch(std::string_view text) {
  SLIM_TRY(auto j, parse(text));
  SLIM_TRY(auto epoch, number(j, "epoch", 0.0, 9e15));
  EpochValue out;
  out.epoch = static_cast<std::uint64_t>(epoch);
  if (const auto it = j.find("cause"); it != j.end() && it->is_string()) out.cause = bounded_text(it->get<std::string>(), 200);
  return out;
}

Expected<PlacementValue, WireError> decode_placement(std::string_view text, const ModelShape& shape) {
  SLIM_TRY(auto j, parse(text));
  PlacementValue out;
  SLIM_TRY(auto epoch, number(j, "epoch", 0.0, 9e15));
  out.epoch = static_cast<std::uint64_t>(epoch);
  if (const auto it = j.find("digest"); it != j.end() && it->is_string()) {
    // A digest is hex; anything else is dropped (it is only shown, never trusted).
    const auto& d = it->get_ref<const std::string&>();
    if (d.size() <= 64 && d.find_first_not_of("0123456789abcdef") == std::string::npos) out.digest = d;
  }
  SLIM_TRY(auto experts, id_list(j, "experts", shape.total()));
  out.experts = std::move(experts);
  if (j.contains("gain_s")) {
    SLIM_TRY(auto gain, number(j, "gain_s", -1e9, 1e9));
    out.gain_s = gain;
  }
  if (j.contains("solve_ms")) {
    SLIM_TRY(auto ms, number(j, "solve_ms", 0.0, 1e9));
    out.solve_ms = ms;
  }
  return out;
}

Expected<HoldingsValue, WireError> decode_holdings(std::string_view text, const ModelShape& shape) {
  SLIM_TRY(auto j, parse(text));
  HoldingsValue out;
  const auto it = j.find("bitmap");
  if (it == j.end() || !it->is_string()) return Unexpected(WireError{"bitmap: missing or not a string"});
  const auto& bits = it->get_ref<const std::string&>();
  if (bits.size() != (shape.total() + 3) / 4) return Unexpected(WireError{"bitmap: wrong length for the model"});
  for (std::size_t i = 0; i < bits.size(); ++i) {
    const char c = bits[i];
    const int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return Unexpected(WireError{"bitmap: not lowercase hex"});
    for (int b = 0; b < 4; ++b) {
      if ((v & (1 << b)) == 0) continue;
      const std::size_t g = i * 4 + static_cast<std::size_t>(b);
      if (g >= shape.total()) return Unexpected(WireError{"bitmap: bit beyond the model's experts"});
      out.experts.push_back(static_cast<std::uint32_t>(g));
    }
  }
  if (const auto o = j.find("origin"); o != j.end() && o->is_boolean()) out.origin = o->get<bool>();
  SLIM_TRY(auto tp, number(j, "transfer_port", 0, 65535));
  SLIM_TRY(auto ep, number(j, "execution_port", 0, 65535));
  out.transfer_port = static_cast<std::uint16_t>(tp);
  out.execution_port = static_cast<std::uint16_t>(ep);
  return out;
}

}  // namespace slimcache::agent::placement
