#include "config/checkpoint_layout.hpp"

#include <regex>
#include <set>

namespace slimcache::config {

std::string_view role_name(ExpertRole role) {
  switch (role) {
    case ExpertRole::k_gate: return "gate";
    case ExpertRole::k_up: return "up";
    case ExpertRole::k_down: return "down";
    case ExpertRole::k_wi: return "wi";
    case ExpertRole::k_wo: return "wo";
    case ExpertRole::k_gate_scale: return "gate_scale";
    case ExpertRole::k_up_scale: return "up_scale";
    case ExpertRole::k_down_scale: return "down_scale";
  }
  return "?";
}

std::string_view scheme_name(NamingScheme scheme) {
  switch (scheme) {
    case NamingScheme::k_mixtral: return "mixtral";
    case NamingScheme::k_hf_moe: return "hf-moe (qwen-moe, olmoe, deepseek)";
    case NamingScheme::k_switch: return "switch";
  }
  return "?";
}

namespace {

std::optional<std::uint32_t> number(const std::string& s) {
  if (s.empty() || s.size() > 6) return std::nullopt;
  return static_cast<std::uint32_t>(std::stoul(s));
}

}  // namespace

std::optional<ExpertTensorName> parse_expert_tensor_name(std::string_view name) {
  static const std::regex mixtral(R"(^model\.layers\.([0-9]+)\.block_sparse_moe\.experts\.([0-9]+)\.(w1|w2|w3)\.weight$)");
  static const std::regex hf(
      R"(^model\.layers\.([0-9]+)\.mlp\.experts\.([0-9]+)\.(gate_proj|up_proj|down_proj)\.(weight|weight_scale_inv)$)");
  static const std::regex sw(
      R"(^(encoder|decoder)\.block\.([0-9]+)\.layer\.[0-9]+\.mlp\.experts\.expert_([0-9]+)\.(wi|wo)\.weight$)");
  const std::string s(name);
  std::smatch m;
  if (std::regex_match(s, m, mixtral)) {
    const auto l = number(m[1]);
    const auto e = number(m[2]);
    if (!l || !e) return std::nullopt;
    const ExpertRole role = m[3] == "w1" ? ExpertRole::k_gate : m[3] == "w3" ? ExpertRole::k_up : ExpertRole::k_down;
    return ExpertTensorName{NamingScheme::k_mixtral, "model", *l, *e, role};
  }
  if (std::regex_match(s, m, hf)) {
    const auto l = number(m[1]);
    const auto e = number(m[2]);
    if (!l || !e) return std::nullopt;
    const bool scale = m[4] == "weight_scale_inv";
    ExpertRole role = m[3] == "gate_proj" ? ExpertRole::k_gate : m[3] == "up_proj" ? ExpertRole::k_up : ExpertRole::k_down;
    if (scale) {
      role = role == ExpertRole::k_gate ? ExpertRole::k_gate_scale
             : role == ExpertRole::k_up ? ExpertRole::k_up_scale
                                        : ExpertRole::k_down_scale;
    }
    return ExpertTensorName{NamingScheme::k_hf_moe, "model", *l, *e, role};
  }
  if (std::regex_match(s, m, sw)) {
    const auto l = number(m[2]);
    const auto e = number(m[3]);
    if (!l || !e) return std::nullopt;
    return ExpertTensorName{NamingScheme::k_switch, m[1], *l, *e, m[4] == "wi" ? ExpertRole::k_wi : ExpertRole::k_wo};
  }
  return std::nullopt;
}

Expected<CheckpointLayout, std::string> recognize_layout(const std::vector<std::string>& tensor_names) {
  // (stack, model layer) -> expert -> tensors
  std::map<std::pair<std::string, std::uint32_t>, std::map<std::uint32_t, ExpertTensors>> found;
  std::optional<NamingScheme> scheme;
  for (const auto& name : tensor_names) {
    const auto parsed = parse_expert_tensor_name(name);
    if (!parsed) continue;
    if (scheme && *scheme != parsed->scheme)
      return Unexpected("unknown layout: tensors of two naming schemes (" + std::string(scheme_name(*scheme)) +
                        " and " + std::string(scheme_name(parsed->scheme)) + ")");
    scheme = parsed->scheme;
    auto& entry = found[{parsed->stack == "decoder" ? "~decoder" : parsed->stack, parsed->model_layer}][parsed->expert];
    entry.model_layer = parsed->model_layer;
    entry.expert = parsed->expert;
    if (!entry.tensors.emplace(parsed->role, name).second)
      return Unexpected("tensor '" + name + "' appears twice");
  }
  if (!scheme)
    return Unexpected(
        "unknown layout: no routed expert tensors recognised (expected Mixtral, Qwen-MoE, OLMoE, DeepSeek or Switch "
        "tensor names)");
  const std::vector<ExpertRole> required = *scheme == NamingScheme::k_switch
                                               ? std::vector<ExpertRole>{ExpertRole::k_wi, ExpertRole::k_wo}
                                               : std::vector<ExpertRole>{ExpertRole::k_gate, ExpertRole::k_up, ExpertRole::k_down};
  CheckpointLayout layout;
  layout.scheme = *scheme;
  std::uint32_t moe_layer = 0;
  for (auto& [key, experts] : found) {
    const auto count = static_cast<std::uint32_t>(experts.size());
    if (layout.experts_per_layer == 0) layout.experts_per_layer = count;
    const std::string where = "model layer " + std::to_string(key.second);
    if (count != layout.experts_per_layer)
      return Unexpected(where + " has " + std::to_string(count) + " experts, earlier layers " +
                        std::to_string(layout.experts_per_layer));
    std::uint32_t expect = 0;
    for (auto& [id, entry] : experts) {
      if (id != expect) return Unexpected(where + ": expert " + std::to_string(expect) + " is missing");
      ++expect;
      for (auto role : required) {
        if (!entry.tensors.contains(role))
          return Unexpected(where + ", expert " + std::to_string(id) + ": no " + std::string(role_name(role)) + " matrix");
      }
      entry.layer = moe_layer;
      layout.experts.push_back(entry);
    }
    ++moe_layer;
  }
  layout.layers = moe_layer;
  return layout;
}

}  // namespace slimcache::config
