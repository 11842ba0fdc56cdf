#include "agent/model/importer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <nlohmann/json.hpp>
#include <vector>

#include "agent/exec/expert_payload.hpp"
#include "platform/unique_fd.hpp"

namespace slimcache::agent::model {

namespace fs = std::filesystem;
using config::ExpertRole;

namespace {

Unexpected<std::string> fail(std::string message) { return Unexpected(std::move(message)); }

std::optional<std::string> slurp(const fs::path& p) {
  std::ifstream in(p);
  if (!in) return std::nullopt;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::optional<exec::WeightDtype> weight_dtype(config::DType d) {
  switch (d) {
    case config::DType::k_f32: return exec::WeightDtype::k_f32;
    case config::DType::k_bf16: return exec::WeightDtype::k_bf16;
    case config::DType::k_f16: return exec::WeightDtype::k_f16;
    default: return std::nullopt;
  }
}


bool pread_all(int fd, std::byte* out, std::uint64_t size, std::uint64_t offset) {
  while (size > 0) {
    const ssize_t n = ::pread(fd, out, size, static_cast<off_t>(offset));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    out += n;
    size -= static_cast<std::uint64_t>(n);
    offset += static_cast<std::uint64_t>(n);
  }
  return true;
}

}  // namespace

Expected<ImportPlan, std::string> plan_import(const ImportOptions& options) {
  ImportPlan plan;
  const fs::path dir(options.model_dir);
  plan.model_dir = options.model_dir;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return fail(options.model_dir + ": not a directory");

  // config.json: model type and top-K (optional when given on the command line).
  nlohmann::json cfg = nlohmann::json::object();
  if (auto text = slurp(dir / "config.json")) {
    cfg = nlohmann::json::parse(*text, nullptr, false);
    if (cfg.is_discarded() || !cfg.is_object()) return fail((dir / "config.json").string() + ": not a JSON object");
  }
  std::uint32_t top_k = options.top_k;
  if (top_k == 0) {
    for (const char* key : {"num_experts_per_tok", "moe_topk", "num_selected_experts"}) {
      if (cfg.contains(key) && cfg[key].is_number_unsigned()) {
        top_k = cfg[key].get<std::uint32_t>();
        break;
      }
    }
  }
  if (top_k == 0) return fail((dir / "config.json").string() + ": no num_experts_per_tok; give --top-k");
  std::string model_id = options.model_id;
  if (model_id.empty() && cfg.contains("model_type") && cfg["model_type"].is_string())
    model_id = cfg["model_type"].get<std::string>();
  if (model_id.empty()) model_id = fs::absolute(dir).filename().string();

  // Which file holds which tensor.
  std::vector<std::string> shards;
  if (auto index_text = slurp(dir / "model.safetensors.index.json")) {
    auto index = config::parse_safetensors_index(*index_text);
    if (!index) return fail((dir / "model.safetensors.index.json").string() + ": " + index.error().message);
    for (const auto& [tensor, file] : *index) plan.tensor_file[tensor] = (dir / file).string();
  } else if (fs::exists(dir / "model.safetensors")) {
    plan.tensor_file.clear();
  } else {
    return fail(options.model_dir + ": neither model.safetensors.index.json nor model.safetensors");
  }
  std::set<std::string> files;
  for (const auto& [tensor, file] : plan.tensor_file) files.insert(file);
  if (files.empty()) files.insert((dir / "model.safetensors").string());
  for (const auto& file : files) {
    auto header = config::read_safetensors_header(file);
    if (!header) return fail(header.error().to_string());
    if (plan.tensor_file.empty() || files.size() == 1) {
      for (const auto& t : header->tensors) plan.tensor_file.try_emplace(t.name, file);
    }
    plan.headers.emplace(file, std::move(header).value());
  }
  std::vector<std::string> names;
  for (const auto& [tensor, file] : plan.tensor_file) {
    if (plan.headers.at(file).find(tensor) == nullptr)
      return fail(file + ": the index lists tensor '" + tensor + "' but the shard does not contain it");
    names.push_back(tensor);
  }
  auto layout = config::recognize_layout(names);
  if (!layout) return fail(options.model_dir + ": " + layout.error());
  plan.layout = std::move(layout).value();
  if (top_k > plan.layout.experts_per_layer)
    return fail("top-K " + std::to_string(top_k) + " exceeds the " + std::to_string(plan.layout.experts_per_layer) +
                " experts per layer");

  // Shapes and dtype, checked on every expert.
  const bool two = plan.layout.scheme == config::NamingScheme::k_switch;
  std::optional<config::DType> dtype;
  std::uint32_t hidden = 0, ffn = 0;
  for (const auto& e : plan.layout.experts) {
    const auto& first = e.tensors.at(two ? ExpertRole::k_wi : ExpertRole::k_gate);
    const auto* t0 = plan.headers.at(plan.tensor_file.at(first)).find(first);
    if (t0->shape.size() != 2) return fail("tensor '" + first + "' is not a matrix");
    if (hidden == 0) {
      ffn = static_cast<std::uint32_t>(t0->shape[0]);
      hidden = static_cast<std::uint32_t>(t0->shape[1]);
      dtype = t0->dtype;
    }
    for (const auto& [role, name] : e.tensors) {
      if (role == ExpertRole::k_gate_scale || role == ExpertRole::k_up_scale || role == ExpertRole::k_down_scale)
        return fail("tensor '" + name + "': FP8 block-scaled experts are not supported yet; import a BF16 checkpoint");
      const auto* t = plan.headers.at(plan.tensor_file.at(name)).find(name);
      const bool down = role == ExpertRole::k_down || role == ExpertRole::k_wo;
      const std::vector<std::uint64_t> want = down ? std::vector<std::uint64_t>{hidden, ffn}
                                                   : std::vector<std::uint64_t>{ffn, hidden};
      if (t->shape != want)
        return fail("tensor '" + name + "' has shape [" + (t->shape.empty() ? "" : std::to_string(t->shape[0])) +
                    (t->shape.size() > 1 ? ", " + std::to_string(t->shape[1]) : "") + "], expected [" +
                    std::to_string(want[0]) + ", " + std::to_string(want[1]) + "]");
      if (t->dtype != *dtype) return fail("tensor '" + name + "' has another dtype than the first expert");
    }
  }
  const auto wd = weight_dtype(*dtype);
  if (!wd) return fail("expert dtype " + std::string(config::dtype_name(*dtype)) + " is not supported (F32, BF16, F16)");
  const auto kind = two ? exec::ExpertKind::k_two_matrix : exec::ExpertKind::k_swiglu;
  auto size = exec::expert_payload_size(kind, *wd, hidden, ffn);
  if (!size) return fail("expert shape " + std::to_string(ffn) + "x" + std::to_string(hidden) + ": " + size.error().message);

  plan.manifest.model = model_id;
  plan.manifest.scheme = std::string(config::scheme_name(plan.layout.scheme)).substr(0, 7) == "mixtral" ? "mixtral"
                         : two                                                                          ? "switch"
                                                                                                        : "hf-moe";
  plan.manifest.kind = two ? "two-matrix" : "swiglu";
  plan.manifest.dtype = std::string(exec::dtype_name(*wd));
  plan.manifest.layers = plan.layout.layers;
  plan.manifest.experts = plan.layout.experts_per_layer;
  plan.manifest.top_k = top_k;
  plan.manifest.hidden = hidden;
  plan.manifest.ffn = ffn;
  plan.manifest.expert_bytes = *size;
  return plan;
}

Expected<ImportReport, std::string> run_import(const ImportPlan& plan, const StoreExpert& store,
                                               const RemoveExpert& remove, const ImportProgress& progress) {
  return run_import_batched(
      plan,
      [&store](std::span<const ExpertBlob> batch) -> Expected<void, std::string> {
        for (const auto& blob : batch) SLIM_TRY_VOID(store(blob.layer, blob.expert, blob.payload));
        return {};
      },
      remove, progress, ImportBatching{1, 0});
}

Expected<ImportReport, std::string> run_import_batched(const ImportPlan& plan, const StoreExperts& store,
                                                       const RemoveExpert& remove, const ImportProgress& progress,
                                                       ImportBatching batching) {
  const bool two = plan.manifest.kind == "two-matrix";
  const std::vector<ExpertRole> order = two ? std::vector<ExpertRole>{ExpertRole::k_wi, ExpertRole::k_wo}
                                            : std::vector<ExpertRole>{ExpertRole::k_gate, ExpertRole::k_up, ExpertRole::k_down};
  std::map<std::string, platform::UniqueFd> fds;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> stored;
  auto rollback = [&](std::string message) -> Expected<ImportReport, std::string> {
    for (auto [l, e] : stored) remove(l, e);
    return fail(std::move(message));
  };
  ImportReport report;
  const std::uint64_t total = plan.layout.experts.size();
  std::vector<std::vector<std::byte>> buffers(order.size());
  std::vector<exec::AlignedBytes> payloads;  // the batch's payloads, owned until stored
  std::vector<ExpertBlob> batch;
  std::uint64_t batch_bytes = 0;
  auto flush = [&]() -> Expected<void, std::string> {
    if (batch.empty()) return {};
    if (auto ok = store(batch); !ok) {
      const auto& first = batch.front();
      return Unexpected("storing layer " + std::to_string(first.layer) + " expert " + std::to_string(first.expert) +
                        (batch.size() > 1 ? " (and " + std::to_string(batch.size() - 1) + " more)" : std::string()) +
                        ": " + ok.error());
    }
    for (const auto& blob : batch) {
      stored.emplace_back(blob.layer, blob.expert);
      ++report.experts;
      report.bytes += blob.payload.size();
    }
    batch.clear();
    payloads.clear();
    batch_bytes = 0;
    if (progress) progress(report.experts, total);
    return {};
  };
  const std::size_t max_experts = std::max<std::size_t>(batching.max_experts, 1);
  payloads.reserve(max_experts);
  for (const auto& e : plan.layout.experts) {
    exec::ExpertMatrices in;
    in.kind = two ? exec::ExpertKind::k_two_matrix : exec::ExpertKind::k_swiglu;
    in.dtype = plan.manifest.dtype == "f32" ? exec::WeightDtype::k_f32
               : plan.manifest.dtype == "f16" ? exec::WeightDtype::k_f16
                                              : exec::WeightDtype::k_bf16;
    in.hidden = plan.manifest.hidden;
    in.ffn = plan.manifest.ffn;
    for (std::size_t i = 0; i < order.size(); ++i) {
      const auto& name = e.tensors.at(order[i]);
      const auto& file = plan.tensor_file.at(name);
      const auto& header = plan.headers.at(file);
      const auto* t = header.find(name);
      auto& fd = fds[file];
      if (!fd.valid()) fd = platform::UniqueFd(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
      if (!fd.valid()) return rollback(file + ": cannot open: " + std::strerror(errno));
      buffers[i].resize(t->bytes());
      if (!pread_all(fd.get(), buffers[i].data(), t->bytes(), header.data_offset + t->begin))
        return rollback(file + ": cannot read tensor '" + name + "' (file truncated?)");
      in.matrices[i] = buffers[i];
    }
    auto payload = exec::encode_expert_payload(in);
    if (!payload) return rollback("layer " + std::to_string(e.layer) + " expert " + std::to_string(e.expert) + ": " +
                                  payload.error().message);
    payloads.push_back(std::move(payload).value());
    batch.push_back({e.layer, e.expert, payloads.back().bytes()});
    batch_bytes += payloads.back().size();
    if (batch.size() >= max_experts || batch_bytes >= batching.max_bytes) {
      if (auto ok = flush(); !ok) return rollback(ok.error());
    }
  }
  if (auto ok = flush(); !ok) return rollback(ok.error());
  return report;
}

}  // namespace slimcache::agent::model
