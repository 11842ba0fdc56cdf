#include "agent/model/model_manifest.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

namespace slimcache::agent::model {

std::string manifest_to_json(const ModelManifest& m) {
  return nlohmann::json{{"model", m.model},   {"scheme", m.scheme}, {"kind", m.kind},     {"dtype", m.dtype},
                        {"layers", m.layers}, {"experts", m.experts}, {"top_k", m.top_k}, {"hidden", m.hidden},
                        {"ffn", m.ffn},       {"expert_bytes", m.expert_bytes}}
             .dump(2) +
         "\n";
}

Expected<ModelManifest, std::string> manifest_from_json(const std::string& text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) return Unexpected(std::string("not a JSON object"));
  ModelManifest m;
  auto str = [&](const char* key, std::string& out) -> bool {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_string()) return false;
    out = it->get<std::string>();
    return true;
  };
  auto num = [&](const char* key, auto& out) -> bool {
    const auto it = j.find(key);
    if (it == j.end() || !it->is_number_unsigned()) return false;
    out = it->get<std::remove_reference_t<decltype(out)>>();
    return true;
  };
  for (auto [key, field] : {std::pair{"model", &m.model}, {"scheme", &m.scheme}, {"kind", &m.kind}, {"dtype", &m.dtype}})
    if (!str(key, *field)) return Unexpected("field '" + std::string(key) + "' missing or not a string");
  for (auto [key, field] : {std::pair{"layers", &m.layers}, {"experts", &m.experts}, {"top_k", &m.top_k},
                            {"hidden", &m.hidden}, {"ffn", &m.ffn}})
    if (!num(key, *field)) return Unexpected("field '" + std::string(key) + "' missing or not a non-negative integer");
  if (!num("expert_bytes", m.expert_bytes)) return Unexpected(std::string("field 'expert_bytes' missing"));
  if (m.model.empty()) return Unexpected(std::string("field 'model' is empty"));
  if (m.layers == 0 || m.experts == 0 || m.top_k == 0 || m.top_k > m.experts)
    return Unexpected(std::string("layers, experts and top_k must be positive with top_k <= experts"));
  return m;
}

Expected<ModelManifest, std::string> read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Unexpected(path + ": cannot open");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto m = manifest_from_json(text);
  if (!m) return Unexpected(path + ": " + m.error());
  return m;
}

Expected<void, std::string> write_manifest(const std::string& path, const ModelManifest& manifest) {
  const std::string tmp = path + ".tmp";
  const std::string text = manifest_to_json(manifest);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
  if (fd < 0) return Unexpected(tmp + ": " + std::strerror(errno));
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Unexpected(path + ": " + std::strerror(ok ? errno : err));
  }
  return {};
}

}  // namespace slimcache::agent::model
