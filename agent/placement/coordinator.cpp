#include "agent/placement/coordinator.hpp"

#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <map>

#include "agent/engine/activation_stats.hpp"
#include "solver/evaluator.hpp"
#include "solver/local_swaps.hpp"
#include "solver/single_node.hpp"

namespace slimcache::agent::placement {

const MemberView* ClusterView::find(const std::string& name) const {
  for (const auto& m : members)
    if (m.name == name) return &m;
  return nullptr;
}

const char* to_string(Phase p) {
  switch (p) {
    case Phase::k_idle: return "idle";
    case Phase::k_waiting: return "waiting";
    case Phase::k_solving: return "solving";
    case Phase::k_done: return "done";
  }
  return "?";
}

std::vector<std::string> server_order(const ClusterView& view) {
  std::vector<std::string> out;
  for (const auto& m : view.members)
    if (m.server) out.push_back(m.name);
  std::sort(out.begin(), out.end());
  return out;
}

namespace {

std::vector<const MemberView*> clients_of(const ClusterView& view) {
  std::vector<const MemberView*> out;
  for (const auto& m : view.members)
    if (m.stats && m.stats->tokens_per_s > 0.0 && m.stats->layers.size() == view.shape.layers) out.push_back(&m);
  std::sort(out.begin(), out.end(), [](const MemberView* a, const MemberView* b) { return a->name < b->name; });
  return out;
}

std::vector<double> marginals_of(const solver::LayerStats& s, std::size_t experts, std::size_t k) {
  if (s.marginals.size() == experts) return s.marginals;
  std::vector<double> p(experts, 0.0);
  double total = 0.0;
  for (const double w : s.weights) total += w;
  if (total <= 0.0 || k == 0) return p;
  for (std::size_t i = 0; i < s.weights.size(); ++i)
    for (std::size_t j = 0; j < k; ++j) p[s.sets[i * k + j]] += s.weights[i] / total;
  return p;
}

std::string hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

}  // namespace

std::string inputs_digest(const ClusterView& view, const LatencyModel& latency) {
  std::string text = std::to_string(view.shape.layers) + "x" + std::to_string(view.shape.experts) + "k" +
                     std::to_string(view.shape.top_k) + "b" + std::to_string(view.expert_bytes) + ";";
  for (const double v : {latency.rtt_s, latency.bandwidth_bytes_per_s, latency.compute_bytes_per_s,
                         latency.fallback_bytes_per_s, latency.hidden_bytes_per_value, latency.amortisation_tokens,
                         static_cast<double>(latency.expert_bytes)})
    text += std::to_string(v) + ",";
  for (const auto& name : server_order(view)) text += "s:" + name + "=" + std::to_string(view.find(name)->disk_budget) + ";";
  for (const auto* c : clients_of(view)) text += "c:" + c->name + "=" + hex64(c->stats_hash) + ";";
  return hex64(XXH3_64bits(text.data(), text.size()));
}

Expected<solver::Problem, std::string> build_view_problem(const ClusterView& view, const std::vector<std::string>& servers,
                                                          const LatencyModel& latency) {
  const auto clients = clients_of(view);
  if (clients.empty()) return Unexpected(std::string("no client has published activation statistics yet"));
  solver::Instance inst;
  inst.model = "cluster";
  inst.top_k = view.shape.top_k;
  inst.expert_bytes.assign(view.shape.layers, std::vector<std::uint64_t>(view.shape.experts, view.expert_bytes));
  inst.hidden_state_bytes = latency.hidden_bytes_per_value * view.hidden;
  const double bytes = static_cast<double>(latency.expert_bytes != 0 ? latency.expert_bytes : view.expert_bytes);
  for (const auto& name : servers)
    inst.nodes.push_back({name, view.find(name)->disk_budget,
                          std::vector<double>(view.shape.layers, bytes / latency.compute_bytes_per_s)});
  for (const auto* c : clients) {
    const auto it = std::find(servers.begin(), servers.end(), c->name);
    std::optional<std::size_t> node;
    if (it != servers.end()) node = static_cast<std::size_t>(it - servers.begin());
    inst.clients.push_back({c->name, c->stats->tokens_per_s, node,
                            std::vector<double>(view.shape.layers, bytes / latency.fallback_bytes_per_s)});
    for (std::size_t n = 0; n < servers.size(); ++n) {
      const bool local = node && *node == n;
      inst.links.push_back({local ? 0.0 : latency.rtt_s, local ? 1e15 : latency.bandwidth_bytes_per_s});
    }
  }
  for (const auto* c : clients)
    for (const auto& l : c->stats->layers) inst.stats.push_back(l);
  auto problem = solver::build_problem(inst);
  if (!problem) return Unexpected(problem.error().to_string());
  return std::move(problem).value();
}

NodeStepResult run_node_step(const NodeStepTask& task) {
  const auto t0 = Clock::now();
  NodeStepResult out;
  out.epoch = task.epoch;
  out.digest = task.digest;
  const auto& p = *task.problem;
  const std::size_t n = task.self;
  if (task.algorithm == solver::Algorithm::sgd || task.algorithm == solver::Algorithm::sgd_fast) {
    solver::Evaluator eval(p);
    eval.reset(task.others);
    const double base = eval.reduction();
    solver::Placement current = task.others;
    for (const auto g : task.held) current.set(n, g, true);
    solver::SingleNodeOptions options;
    options.combine = task.algorithm == solver::Algorithm::sgd ? solver::Combine::exact : solver::Combine::fast;
    options.epsilon = task.epsilon;
    options.migration = {&current, task.migration_s_per_byte};
    auto step = solver::solve_single_node(eval, n, options);
    // Then node-local fills and swaps (solver/local_swaps.hpp): the step's per-layer chains
    // can end where replacing one expert still pays. Node n is empty again afterwards.
    {
      for (const auto g : step.experts) eval.add(n, g);
      solver::LocalSwaps swaps(eval, options.migration);
      if (swaps.improve(n) > 0) {
        step.experts.clear();
        for (std::size_t g = 0; g < p.num_experts; ++g)
          if (eval.placement().has(n, g)) step.experts.push_back(static_cast<std::uint32_t>(g));
      }
      for (const auto g : step.experts) eval.remove(n, g);
    }
    // The value (without migration cost) of a content for this node, others fixed.
    auto value_of = [&](const std::vector<std::uint32_t>& content) {
      for (const auto g : content) eval.add(n, g);
      const double v = eval.reduction() - base;
      for (const auto g : content) eval.remove(n, g);
      return v;
    };
    std::uint64_t previous_bytes = 0;
    for (const auto g : task.previous) previous_bytes += p.size[g];
    const double new_value = value_of(step.experts);
    out.experts = step.experts;
    out.gain_s = new_value;
    if (!task.previous.empty() && previous_bytes <= p.budget[n]) {
      const double keep_value = value_of(task.previous);
      std::uint64_t moved = 0;
      for (const auto g : step.experts)
        if (!std::binary_search(task.previous.begin(), task.previous.end(), g)) moved += p.size[g];
      const double new_net = new_value - task.migration_s_per_byte * static_cast<double>(moved);
      if (new_net <= keep_value + task.hysteresis * std::max(keep_value, 0.0)) {
        out.experts = task.previous;
        out.gain_s = keep_value;
        out.kept_previous = true;
      }
    }
  } else {
    solver::SolveOptions options;
    options.epsilon = task.epsilon;
    auto solved = solver::solve(p, task.algorithm, options);
    if (!solved) {
      out.error = solved.error().message;
      return out;
    }
    solver::Evaluator eval(p);
    solver::Placement rest = solved->placement;
    for (std::size_t g = 0; g < p.num_experts; ++g) {
      if (solved->placement.has(n, g)) out.experts.push_back(static_cast<std::uint32_t>(g));
      rest.set(n, g, false);
    }
    eval.reset(rest);
    const double base = eval.reduction();
    eval.reset(solved->placement);
    out.gain_s = eval.reduction() - base;
  }
  std::sort(out.experts.begin(), out.experts.end());
  out.solve_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  return out;
}

Coordinator::Basis Coordinator::basis_of(const ClusterView& view) const {
  Basis b;
  for (const auto& name : server_order(view)) b.servers.emplace_back(name, view.find(name)->disk_budget);
  const auto clients = clients_of(view);
  double total = 0.0;
  for (const auto* c : clients) total += c->stats->tokens_per_s;
  b.aggregate.resize(clients.empty() ? 0 : view.shape.layers);
  for (std::size_t l = 0; l < b.aggregate.size(); ++l) {
    auto& agg = b.aggregate[l].marginals;
    agg.assign(view.shape.experts, 0.0);
    for (const auto* c : clients) {
      const auto p = marginals_of(c->stats->layers[l], view.shape.experts, view.shape.top_k);
      for (std::size_t e = 0; e < agg.size(); ++e) agg[e] += c->stats->tokens_per_s / total * p[e];
    }
  }
  return b;
}

std::optional<std::string> Coordinator::trigger(const ClusterView& view, const Basis& now_basis) {
  if (now_basis.aggregate.empty() || now_basis.servers.empty()) return std::nullopt;  // nothing to optimise
  if (m_forced) return m_forced;
  if (!m_basis) return std::string("first statistics");
  std::vector<std::string> before, after;
  for (const auto& s : m_basis->servers) before.push_back(s.first);
  for (const auto& s : now_basis.servers) after.push_back(s.first);
  if (before != after) return std::string("membership");
  if (m_basis->servers != now_basis.servers) return std::string("budgets");
  m_last_drift = engine::ActivationStats::drift(m_basis->aggregate, now_basis.aggregate);
  if (m_basis->aggregate.empty() || m_last_drift > m_options.drift_threshold) return std::string("drift");
  (void)view;
  return std::nullopt;
}

void Coordinator::enter(std::uint64_t epoch, std::string cause, Clock::time_point now, Basis basis) {
  m_epoch = epoch;
  m_cause = std::move(cause);
  m_epoch_start = now;
  m_basis = std::move(basis);
  m_phase = Phase::k_waiting;
  ++m_started;
}

Coordinator::Actions Coordinator::tick(Clock::time_point now, const ClusterView& view) {
  Actions actions;
  std::uint64_t highest = m_epoch;
  std::string cause;
  for (const auto& m : view.members) {
    if (m.epoch && m.epoch->epoch > highest) {
      highest = m.epoch->epoch;
      cause = m.epoch->cause;
    }
    // A placement names its epoch too: a node that restarted after starting the newest epoch
    // publishes no epoch value for it any more, and the others' placements still carry it.
    if (m.placement && m.placement->epoch > highest) {
      highest = m.placement->epoch;
      cause = "followed " + m.name + "'s placement";
    }
  }
  if (highest > m_epoch) {
    enter(highest, cause, now, basis_of(view));  // follow the newest epoch at once
  } else if (m_phase == Phase::k_idle || m_phase == Phase::k_done) {
    auto now_basis = basis_of(view);
    if (auto why = trigger(view, now_basis)) {
      const bool due = m_started == 0 || m_forced || now - m_epoch_start >= m_options.min_interval;
      if (due) {
        m_forced.reset();
        enter(m_epoch + 1, *why, now, std::move(now_basis));
        actions.publish_epoch = EpochValue{m_epoch, m_cause};
      }
    }
  }
  if (m_phase == Phase::k_waiting && !m_solve_in_flight) actions.solve = make_task(now, view);
  return actions;
}

std::optional<NodeStepTask> Coordinator::make_task(Clock::time_point now, const ClusterView& view) {
  m_order = server_order(view);
  m_digest = inputs_digest(view, m_options.latency);
  const auto self_it = std::find(m_order.begin(), m_order.end(), m_options.self);
  if (self_it == m_order.end()) {  // not a server: nothing of ours to place
    m_phase = Phase::k_done;
    return std::nullopt;
  }
  const auto self = static_cast<std::size_t>(self_it - m_order.begin());
  const bool timed_out = now - m_epoch_start >= m_options.publish_timeout;
  for (std::size_t i = 0; i < self; ++i) {
    const auto* m = view.find(m_order[i]);
    if ((!m->placement || m->placement->epoch < m_epoch) && !timed_out) return std::nullopt;
  }
  bool fell_back = false;
  for (std::size_t i = 0; i < self; ++i) {
    const auto* m = view.find(m_order[i]);
    fell_back = fell_back || !m->placement || m->placement->epoch < m_epoch;
  }
  m_timeouts += fell_back ? 1 : 0;
  auto problem = build_view_problem(view, m_order, m_options.latency);
  if (!problem) {  // e.g. statistics not here yet: nothing to solve this epoch
    m_phase = Phase::k_done;
    return std::nullopt;
  }
  NodeStepTask task;
  task.epoch = m_epoch;
  task.digest = m_digest;
  task.problem = std::make_shared<const solver::Problem>(std::move(problem).value());
  task.servers = m_order;
  task.self = self;
  task.others = solver::Placement(m_order.size(), view.shape.total());
  for (std::size_t i = 0; i < m_order.size(); ++i) {
    if (i == self) continue;
    const auto* m = view.find(m_order[i]);
    if (m->placement)
      for (const auto g : m->placement->experts) task.others.set(i, g, true);
  }
  const auto* me = view.find(m_options.self);
  if (m_published) task.previous = m_published->experts;
  if (me->holdings) task.held = me->holdings->experts;
  task.algorithm = m_options.algorithm;
  task.epsilon = m_options.epsilon;
  task.migration_s_per_byte = m_options.migration_weight /
                              (m_options.latency.bandwidth_bytes_per_s * m_options.latency.amortisation_tokens);
  task.hysteresis = m_options.hysteresis;
  m_phase = Phase::k_solving;
  m_solve_in_flight = true;
  return task;
}

std::optional<PlacementValue> Coordinator::solved(const NodeStepResult& result) {
  m_solve_in_flight = false;
  if (result.epoch != m_epoch || m_phase != Phase::k_solving) return std::nullopt;  // a newer epoch began
  m_phase = Phase::k_done;
  if (!result.error.empty()) return std::nullopt;
  m_published = PlacementValue{result.epoch, result.digest, result.experts, result.gain_s, result.solve_ms};
  return m_published;
}

}  // namespace slimcache::agent::placement
