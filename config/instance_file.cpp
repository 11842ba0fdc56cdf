#include "config/instance_file.hpp"

#include <charconv>
#include <cmath>
#include <fstream>
#include <map>
#include <sstream>
#include <toml++/toml.h>

#include "config/toml_text.hpp"
#include "solver/problem.hpp"

namespace slimcache::config {

std::string InstanceFileError::to_string() const {
  std::string out = file.empty() ? std::string("instance") : file;
  if (line > 0) out += ":" + std::to_string(line);
  out += ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

namespace {

struct Reader {
  std::string name;

  Unexpected<InstanceFileError> fail(const toml::node* at, std::string key, std::string message) const {
    const std::size_t line = at != nullptr ? static_cast<std::size_t>(at->source().begin.line) : 0;
    return Unexpected(InstanceFileError{name, line, std::move(key), std::move(message)});
  }

  // A number (integer or float) at `node`.
  static std::optional<double> number(const toml::node* node) {
    if (node == nullptr) return std::nullopt;
    if (auto v = node->value<double>()) return *v;
    return std::nullopt;
  }
  static std::optional<std::int64_t> integer(const toml::node* node) {
    if (node == nullptr || !node->is_integer()) return std::nullopt;
    return node->value<std::int64_t>();
  }

  // A scalar applied to every layer, or an array with one number per layer.
  Expected<std::vector<double>, InstanceFileError> per_layer(const toml::table& t, const toml::node* owner,
                                                             std::string_view field, const std::string& key,
                                                             std::size_t layers) const {
    const toml::node* node = t.get(field);
    if (node == nullptr) return fail(owner, key + "." + std::string(field), "missing");
    if (auto v = number(node)) {
      if (!std::isfinite(*v) || *v < 0) return fail(node, key + "." + std::string(field), "must be a number >= 0");
      return std::vector<double>(layers, *v);
    }
    const toml::array* arr = node->as_array();
    if (arr == nullptr || arr->size() != layers)
      return fail(node, key + "." + std::string(field),
                  "must be a number or an array with one number per layer (" + std::to_string(layers) + ")");
    std::vector<double> out;
    for (const auto& el : *arr) {
      auto v = number(&el);
      if (!v || !std::isfinite(*v) || *v < 0) return fail(&el, key + "." + std::string(field), "must be numbers >= 0");
      out.push_back(*v);
    }
    return out;
  }

  Expected<solver::Instance, InstanceFileError> parse(const toml::table& root) const {
    solver::Instance in;
    const toml::table* model = root["model"].as_table();
    if (model == nullptr) return fail(nullptr, "model", "missing [model] table");
    in.model = (*model)["name"].value_or(std::string{});
    auto layers = integer(model->get("layers"));
    if (!layers || *layers <= 0) return fail(model->get("layers") ? model->get("layers") : model, "model.layers", "must be an integer >= 1");
    auto top_k = integer(model->get("top_k"));
    if (!top_k || *top_k <= 0) return fail(model->get("top_k") ? model->get("top_k") : model, "model.top_k", "must be an integer >= 1");
    in.top_k = static_cast<std::size_t>(*top_k);
    const auto L = static_cast<std::size_t>(*layers);
    // Experts per layer and sizes.
    const toml::node* sizes = model->get("expert_bytes");
    if (sizes == nullptr) return fail(model, "model.expert_bytes", "missing");
    if (const toml::array* by_layer = sizes->as_array()) {
      if (by_layer->size() != L) return fail(sizes, "model.expert_bytes", "needs one array of sizes per layer");
      for (std::size_t l = 0; l < L; ++l) {
        const toml::array* arr = (*by_layer)[l].as_array();
        if (arr == nullptr) return fail(sizes, "model.expert_bytes", "needs one array of sizes per layer");
        std::vector<std::uint64_t> row;
        for (const auto& el : *arr) {
          auto v = integer(&el);
          if (!v || *v <= 0) return fail(&el, "model.expert_bytes", "sizes must be integers >= 1");
          row.push_back(static_cast<std::uint64_t>(*v));
        }
        in.expert_bytes.push_back(std::move(row));
      }
    } else {
      auto bytes = integer(sizes);
      if (!bytes || *bytes <= 0) return fail(sizes, "model.expert_bytes", "must be an integer >= 1 or per-layer arrays");
      auto experts = integer(model->get("experts"));
      if (!experts || *experts <= 0 || *experts > 65536)
        return fail(model->get("experts") ? model->get("experts") : model, "model.experts", "must be an integer in 1..65536");
      in.expert_bytes.assign(L, std::vector<std::uint64_t>(static_cast<std::size_t>(*experts),
                                                           static_cast<std::uint64_t>(*bytes)));
    }
    for (std::size_t l = 0; l < L; ++l)
      if (in.expert_bytes[l].size() < in.top_k)
        return fail(model->get("top_k"), "model.top_k",
                    "top_k = " + std::to_string(in.top_k) + " is larger than the " +
                        std::to_string(in.expert_bytes[l].size()) + " experts of layer " + std::to_string(l));
    auto hidden = number(model->get("hidden_state_bytes"));
    if (!hidden || *hidden < 0) return fail(model->get("hidden_state_bytes") ? model->get("hidden_state_bytes") : model, "model.hidden_state_bytes", "must be a number >= 0");
    in.hidden_state_bytes = *hidden;

    // Nodes.
    std::map<std::string, std::size_t> node_index;
    const toml::array* nodes = root["nodes"].as_array();
    if (nodes == nullptr || nodes->empty()) return fail(nullptr, "nodes", "at least one [[nodes]] table is needed");
    for (std::size_t i = 0; i < nodes->size(); ++i) {
      const toml::table* t = (*nodes)[i].as_table();
      const std::string key = "nodes[" + std::to_string(i) + "]";
      if (t == nullptr) return fail(&(*nodes)[i], key, "must be a table");
      solver::Node node;
      node.name = (*t)["name"].value_or(std::string{});
      if (node.name.empty()) return fail(t, key + ".name", "missing");
      if (!node_index.emplace(node.name, i).second) return fail(t, key + ".name", "duplicate node name \"" + node.name + "\"");
      const toml::node* budget = t->get("budget_bytes");
      if (budget == nullptr) return fail(t, key + ".budget_bytes", "missing budget for node \"" + node.name + "\"");
      auto b = number(budget);
      if (!b || !std::isfinite(*b)) return fail(budget, key + ".budget_bytes", "must be a number of bytes");
      if (*b < 0) return fail(budget, key + ".budget_bytes", "negative budget for node \"" + node.name + "\"");
      node.budget_bytes = static_cast<std::uint64_t>(*b);
      SLIM_TRY(node.exec_s, per_layer(*t, t, "exec_s", key, L));
      in.nodes.push_back(std::move(node));
    }
    // Clients.
    std::map<std::string, std::size_t> client_index;
    const toml::array* clients = root["clients"].as_array();
    if (clients == nullptr || clients->empty()) return fail(nullptr, "clients", "at least one [[clients]] table is needed");
    for (std::size_t i = 0; i < clients->size(); ++i) {
      const toml::table* t = (*clients)[i].as_table();
      const std::string key = "clients[" + std::to_string(i) + "]";
      if (t == nullptr) return fail(&(*clients)[i], key, "must be a table");
      solver::Client c;
      c.name = (*t)["name"].value_or(std::string{});
      if (c.name.empty()) return fail(t, key + ".name", "missing");
      if (!client_index.emplace(c.name, i).second) return fail(t, key + ".name", "duplicate client name \"" + c.name + "\"");
      auto w = number(t->get("weight"));
      c.weight = w.value_or(1.0);
      if (!std::isfinite(c.weight) || c.weight < 0) return fail(t->get("weight"), key + ".weight", "must be a number >= 0");
      if (const toml::node* on = t->get("node")) {
        auto nm = on->value<std::string>();
        if (!nm || !node_index.count(*nm)) return fail(on, key + ".node", "names no node of [[nodes]]");
        c.node = node_index[*nm];
      }
      SLIM_TRY(c.fallback_s, per_layer(*t, t, "fallback_s", key, L));
      in.clients.push_back(std::move(c));
    }
    // Links: missing means unreachable.
    in.links.assign(in.clients.size() * in.nodes.size(), solver::Link{0.0, 0.0});
    if (const toml::array* links = root["links"].as_array()) {
      for (std::size_t i = 0; i < links->size(); ++i) {
        const toml::table* t = (*links)[i].as_table();
        const std::string key = "links[" + std::to_string(i) + "]";
        if (t == nullptr) return fail(&(*links)[i], key, "must be a table");
        auto cn = (*t)["client"].value<std::string>();
        auto nn = (*t)["node"].value<std::string>();
        if (!cn || !client_index.count(*cn)) return fail(t, key + ".client", "names no client of [[clients]]");
        if (!nn || !node_index.count(*nn)) return fail(t, key + ".node", "names no node of [[nodes]]");
        auto rtt = number(t->get("rtt_s"));
        auto bw = number(t->get("bandwidth_bytes_per_s"));
        if (!rtt || *rtt < 0 || !std::isfinite(*rtt)) return fail(t, key + ".rtt_s", "must be a number >= 0");
        if (!bw || *bw < 0 || !std::isfinite(*bw)) return fail(t, key + ".bandwidth_bytes_per_s", "must be a number >= 0");
        in.links[client_index[*cn] * in.nodes.size() + node_index[*nn]] = solver::Link{*rtt, *bw};
      }
    }
    // Statistics.
    in.stats.assign(in.clients.size() * L, {});
    std::vector<std::uint8_t> seen(in.stats.size(), 0);
    const toml::array* stats = root["stats"].as_array();
    if (stats == nullptr) return fail(nullptr, "stats", "no [[stats]] tables");
    for (std::size_t i = 0; i < stats->size(); ++i) {
      const toml::table* t = (*stats)[i].as_table();
      const std::string key = "stats[" + std::to_string(i) + "]";
      if (t == nullptr) return fail(&(*stats)[i], key, "must be a table");
      auto cn = (*t)["client"].value<std::string>();
      if (!cn || !client_index.count(*cn)) return fail(t, key + ".client", "names no client of [[clients]]");
      auto layer = integer(t->get("layer"));
      if (!layer) return fail(t, key + ".layer", "missing layer index");
      if (*layer < 0 || static_cast<std::size_t>(*layer) >= L)
        return fail(t->get("layer"), key + ".layer",
                    "statistics for layer " + std::to_string(*layer) + ", which does not exist (the model has " +
                        std::to_string(L) + " layers)");
      const std::size_t u = client_index[*cn], l = static_cast<std::size_t>(*layer);
      if (seen[u * L + l]) return fail(t, key, "second [[stats]] for client \"" + *cn + "\" layer " + std::to_string(l));
      seen[u * L + l] = 1;
      auto& st = in.stats[u * L + l];
      const std::size_t E = in.expert_bytes[l].size();
      const toml::array* sets = (*t)["sets"].as_array();
      if (sets == nullptr || sets->empty()) return fail(t, key + ".sets", "missing or empty array of top-K sets");
      for (std::size_t s = 0; s < sets->size(); ++s) {
        const toml::array* set = (*sets)[s].as_array();
        const std::string skey = key + ".sets[" + std::to_string(s) + "]";
        if (set == nullptr || set->size() != in.top_k)
          return fail(&(*sets)[s], skey, "each set needs exactly top_k = " + std::to_string(in.top_k) + " expert ids");
        for (const auto& el : *set) {
          auto id = integer(&el);
          if (!id || *id < 0 || static_cast<std::size_t>(*id) >= E)
            return fail(&el, skey, "expert ids must be integers in 0.." + std::to_string(E - 1));
          st.sets.push_back(static_cast<solver::ExpertId>(*id));
        }
      }
      if (const toml::array* w = (*t)["weights"].as_array()) {
        if (w->size() != sets->size()) return fail(w, key + ".weights", "needs one weight per set");
        for (const auto& el : *w) {
          auto v = number(&el);
          if (!v || *v < 0 || !std::isfinite(*v)) return fail(&el, key + ".weights", "weights must be numbers >= 0");
          st.weights.push_back(*v);
        }
      } else {
        st.weights.assign(sets->size(), 1.0);
      }
      if (const toml::array* m = (*t)["marginals"].as_array()) {
        if (m->size() != E) return fail(m, key + ".marginals", "needs one value per expert of the layer (" + std::to_string(E) + ")");
        for (const auto& el : *m) {
          auto v = number(&el);
          if (!v || *v < 0 || !std::isfinite(*v)) return fail(&el, key + ".marginals", "must be numbers >= 0");
          st.marginals.push_back(*v);
        }
      }
    }
    for (std::size_t u = 0; u < in.clients.size(); ++u)
      for (std::size_t l = 0; l < L; ++l)
        if (!seen[u * L + l])
          return fail(nullptr, "stats", "no statistics for client \"" + in.clients[u].name + "\" layer " + std::to_string(l));
    if (auto ok = solver::validate(in); !ok) return fail(nullptr, ok.error().key, ok.error().message);
    return in;
  }
};

std::string num(double v) {
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  std::string s(buf, res.ptr);
  if (s.find_first_of(".eEn") == std::string::npos) s += ".0";
  return s;
}

std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

template <typename T, typename F>
std::string array(const std::vector<T>& v, F f) {
  std::string out = "[";
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += ", ";
    out += f(v[i]);
  }
  return out + "]";
}

std::string per_layer(const std::vector<double>& v) {
  for (double x : v)
    if (x != v.front()) return array(v, num);
  return v.empty() ? "[]" : num(v.front());
}

}  // namespace

Expected<solver::Instance, InstanceFileError> read_instance(std::string_view text, const std::string& name) {
  if (const auto bad = screen_toml_text(text))
    return Unexpected(InstanceFileError{name, bad->line, "", "malformed TOML: " + bad->message});
  toml::parse_result parsed = toml::parse(text, name);
  if (!parsed) {
    const auto& err = parsed.error();
    return Unexpected(InstanceFileError{name, static_cast<std::size_t>(err.source().begin.line), "",
                                        "malformed TOML: " + std::string(err.description())});
  }
  return Reader{name}.parse(parsed.table());
}

Expected<solver::Instance, InstanceFileError> read_instance_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Unexpected(InstanceFileError{path, 0, "", "cannot open the file"});
  std::ostringstream buf;
  buf << in.rdbuf();
  return read_instance(buf.str(), path);
}

std::string write_instance(const solver::Instance& in, std::string_view comment) {
  std::ostringstream out;
  std::istringstream lines{std::string(comment)};
  for (std::string line; std::getline(lines, line);) out << "# " << line << "\n";
  out << "# slimcache placement instance (docs/solver.md). Times in seconds, sizes in bytes.\n"
         "format = \"slimcache-instance\"\nversion = 1\n\n";
  const std::size_t L = in.num_layers();
  bool uniform = true;
  for (const auto& layer : in.expert_bytes)
    for (auto s : layer) uniform = uniform && layer.size() == in.expert_bytes[0].size() && s == in.expert_bytes[0][0];
  out << "[model]\nname = " << quoted(in.model) << "\nlayers = " << L << "\ntop_k = " << in.top_k << "\n";
  if (uniform) {
    out << "experts = " << in.expert_bytes[0].size() << "        # routed experts per layer\n"
        << "expert_bytes = " << in.expert_bytes[0][0] << "   # every routed expert (bf16 weights)\n";
  } else {
    out << "expert_bytes = [\n";
    for (const auto& layer : in.expert_bytes)
      out << "  " << array(layer, [](std::uint64_t s) { return std::to_string(s); }) << ",\n";
    out << "]\n";
  }
  out << "hidden_state_bytes = " << num(in.hidden_state_bytes) << "   # h: one token's hidden state\n\n";
  out << "# Nodes: storage budget Q_n and the time to execute one expert, per layer (scalar = every layer).\n";
  for (const auto& n : in.nodes)
    out << "[[nodes]]\nname = " << quoted(n.name) << "\nbudget_bytes = " << n.budget_bytes
        << "\nexec_s = " << per_layer(n.exec_s) << "\n\n";
  out << "# Clients: weight (share of tokens), the node they run on (optional), and the fallback\n"
         "# latency D0 of an expert no node serves, per layer.\n";
  for (const auto& c : in.clients) {
    out << "[[clients]]\nname = " << quoted(c.name) << "\nweight = " << num(c.weight) << "\n";
    if (c.node) out << "node = " << quoted(in.nodes[*c.node].name) << "\n";
    out << "fallback_s = " << per_layer(c.fallback_s) << "\n\n";
  }
  out << "# Links client -> node: round-trip time and bandwidth. A missing pair is unreachable.\n";
  for (std::size_t u = 0; u < in.clients.size(); ++u)
    for (std::size_t n = 0; n < in.nodes.size(); ++n) {
      const auto& lk = in.link(u, n);
      if (lk.bandwidth_bytes_per_s <= 0.0) continue;
      out << "[[links]]\nclient = " << quoted(in.clients[u].name) << "\nnode = " << quoted(in.nodes[n].name)
          << "\nrtt_s = " << num(lk.rtt_s) << "\nbandwidth_bytes_per_s = " << num(lk.bandwidth_bytes_per_s) << "\n\n";
    }
  out << "# Activation statistics per client and layer: sampled top-K sets (expert ids within the\n"
         "# layer), optional weights (default 1 each) and optional marginals (one per expert).\n";
  for (std::size_t u = 0; u < in.clients.size(); ++u)
    for (std::size_t l = 0; l < L; ++l) {
      const auto& st = in.stat(u, l);
      out << "[[stats]]\nclient = " << quoted(in.clients[u].name) << "\nlayer = " << l << "\nsets = [\n";
      for (std::size_t s = 0; s * in.top_k < st.sets.size(); ++s) {
        out << "  [";
        for (std::size_t i = 0; i < in.top_k; ++i) out << (i ? ", " : "") << st.sets[s * in.top_k + i];
        out << "],\n";
      }
      out << "]\n";
      bool ones = true;
      for (double w : st.weights) ones = ones && w == 1.0;
      if (!ones) out << "weights = " << array(st.weights, num) << "\n";
      if (!st.marginals.empty()) out << "marginals = " << array(st.marginals, num) << "\n";
      out << "\n";
    }
  return out.str();
}

Expected<void, InstanceFileError> write_instance_file(const std::string& path, const solver::Instance& instance,
                                                      std::string_view comment) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return Unexpected(InstanceFileError{path, 0, "", "cannot open the file for writing"});
  out << write_instance(instance, comment);
  out.flush();
  if (!out) return Unexpected(InstanceFileError{path, 0, "", "write failed"});
  return {};
}

}  // namespace slimcache::config
