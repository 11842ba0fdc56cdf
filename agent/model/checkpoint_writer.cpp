#include "agent/model/checkpoint_writer.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

namespace slimcache::agent::model {


std::vector<std::string> expert_tensor_names(const CheckpointSpec& s, std::uint32_t model_layer, std::uint32_t e) {
  const std::string l = std::to_string(model_layer), x = std::to_string(e);
  if (s.family == Family::k_mixtral)
    return {"model.layers." + l + ".block_sparse_moe.experts." + x + ".w1.weight",
            "model.layers." + l + ".block_sparse_moe.experts." + x + ".w3.weight",
            "model.layers." + l + ".block_sparse_moe.experts." + x + ".w2.weight"};
  return {"model.layers." + l + ".mlp.experts." + x + ".gate_proj.weight",
          "model.layers." + l + ".mlp.experts." + x + ".up_proj.weight",
          "model.layers." + l + ".mlp.experts." + x + ".down_proj.weight"};
}

std::uint8_t fixture_byte(const std::string& name, std::uint64_t i) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : name) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  return static_cast<std::uint8_t>((h >> 17) + i * 31 + (i >> 8));
}

std::vector<std::string> write_checkpoint(const std::filesystem::path& dir, const CheckpointSpec& s) {
  std::filesystem::create_directories(dir);
  const char* type = s.family == Family::k_mixtral      ? "mixtral"
                     : s.family == Family::k_qwen3_moe ? "qwen3_moe"
                     : s.family == Family::k_olmoe     ? "olmoe"
                                                       : "deepseek_v3";
  std::ofstream(dir / "config.json") << nlohmann::json{{"model_type", type}, {"num_experts_per_tok", s.top_k},
                                                       {"hidden_size", s.hidden}}.dump();
  // DeepSeek keeps its first layer dense: MoE layers start at model layer 1.
  const std::uint32_t first = s.family == Family::k_deepseek_v3 ? 1 : 0;
  std::vector<config::TensorInfo> all{{"model.embed_tokens.weight", s.dtype, {8, s.hidden}, 0, 0}};
  if (first == 1) all.push_back({"model.layers.0.mlp.gate_proj.weight", s.dtype, {s.ffn, s.hidden}, 0, 0});
  std::vector<std::string> expert_names;
  for (std::uint32_t l = first; l < first + s.layers; ++l) {
    all.push_back({"model.layers." + std::to_string(l) + ".mlp.gate.weight", s.dtype, {s.experts, s.hidden}, 0, 0});
    if (s.family == Family::k_deepseek_v3)
      all.push_back({"model.layers." + std::to_string(l) + ".mlp.shared_experts.up_proj.weight", s.dtype, {s.ffn, s.hidden}, 0, 0});
    for (std::uint32_t e = 0; e < s.experts; ++e) {
      const auto names = expert_tensor_names(s, l, e);
      for (std::size_t i = 0; i < 3; ++i) {
        const std::vector<std::uint64_t> shape = i == 2 ? std::vector<std::uint64_t>{s.hidden, s.ffn}
                                                        : std::vector<std::uint64_t>{s.ffn, s.hidden};
        all.push_back({names[i], s.dtype, shape, 0, 0});
        expert_names.push_back(names[i]);
      }
    }
  }
  nlohmann::json weight_map = nlohmann::json::object();
  const std::uint32_t shards = std::max<std::uint32_t>(1, s.shards);
  for (std::uint32_t k = 0; k < shards; ++k) {
    std::vector<config::TensorInfo> part;
    for (std::size_t i = k; i < all.size(); i += shards) part.push_back(all[i]);
    const std::string file = shards == 1 ? "model.safetensors"
                                         : "model-0000" + std::to_string(k + 1) + "-of-0000" + std::to_string(shards) +
                                               ".safetensors";
    auto header = config::encode_safetensors_header(part);
    std::ofstream out(dir / file, std::ios::binary);
    out.write(reinterpret_cast<const char*>(header.data()), static_cast<std::streamsize>(header.size()));
    for (const auto& t : part) {
      for (std::uint64_t i = 0; i < t.bytes(); ++i) out.put(static_cast<char>(fixture_byte(t.name, i)));
      weight_map[t.name] = file;
    }
  }
  if (shards > 1) std::ofstream(dir / "model.safetensors.index.json") << nlohmann::json{{"metadata", {}}, {"weight_map", weight_map}}.dump();
  return expert_names;
}

}  // namespace slimcache::agent::model
