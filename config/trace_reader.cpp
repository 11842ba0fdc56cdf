#include "config/trace_reader.hpp"

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>

namespace slimcache::config {

std::string TraceError::to_string() const {
  std::string out = file.empty() ? std::string("trace") : file;
  if (line > 0) out += ":" + std::to_string(line);
  return out + ": " + message;
}

namespace {

Unexpected<TraceError> fail(const std::string& name, std::size_t line, std::string msg) {
  return Unexpected(TraceError{name, line, std::move(msg)});
}

}  // namespace

Expected<solver::RoutingTrace, TraceError> read_trace(std::istream& in, const std::string& name) {
  solver::RoutingTrace trace;
  std::string text;
  std::size_t line_no = 0;
  std::size_t max_id = 0;
  std::vector<solver::ExpertId> set;
  while (std::getline(in, text)) {
    ++line_no;
    if (std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isspace(c); })) continue;
    nlohmann::json obj = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (obj.is_discarded()) return fail(name, line_no, "not valid JSON");
    if (!obj.is_object()) return fail(name, line_no, "expected a JSON object");
    auto layers = obj.find("layers");
    if (layers == obj.end() || !layers->is_array())
      return fail(name, line_no, "missing \"layers\" array");
    if (layers->empty()) return fail(name, line_no, "\"layers\" is empty");
    if (trace.num_layers == 0) {
      trace.num_layers = layers->size();
    } else if (layers->size() != trace.num_layers) {
      return fail(name, line_no, "has " + std::to_string(layers->size()) + " layers, earlier lines have " +
                                     std::to_string(trace.num_layers));
    }
    for (std::size_t l = 0; l < layers->size(); ++l) {
      const auto& experts = (*layers)[l];
      const std::string where = "layer " + std::to_string(l) + ": ";
      if (!experts.is_array() || experts.empty())
        return fail(name, line_no, where + "expected a non-empty array of expert ids");
      if (trace.top_k == 0) {
        trace.top_k = experts.size();
      } else if (experts.size() != trace.top_k) {
        return fail(name, line_no, where + "has " + std::to_string(experts.size()) +
                                       " experts, expected top-K " + std::to_string(trace.top_k));
      }
      set.clear();
      for (const auto& e : experts) {
        if (!e.is_number_integer()) return fail(name, line_no, where + "expert id is not an integer");
        const auto v = e.get<std::int64_t>();
        if (v < 0 || v > 65535) return fail(name, line_no, where + "expert id " + std::to_string(v) + " out of range");
        set.push_back(static_cast<solver::ExpertId>(v));
        max_id = std::max<std::size_t>(max_id, static_cast<std::size_t>(v));
      }
      std::vector<solver::ExpertId> sorted = set;
      std::sort(sorted.begin(), sorted.end());
      if (std::adjacent_find(sorted.begin(), sorted.end()) != sorted.end())
        return fail(name, line_no, where + "expert id repeated within one set");
      trace.ids.insert(trace.ids.end(), set.begin(), set.end());
    }
  }
  if (in.bad()) return fail(name, 0, "read error");
  if (trace.num_layers == 0) return fail(name, 0, "no tokens in trace");
  trace.num_experts = max_id + 1;
  return trace;
}

Expected<solver::RoutingTrace, TraceError> read_trace_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return fail(path, 0, "cannot open file");
  return read_trace(in, path);
}

}  // namespace slimcache::config
