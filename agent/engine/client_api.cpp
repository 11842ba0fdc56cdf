// The C API of slimcache/client.h over EngineSegment and the memory tier's TierReader.
// Only the slimcache_* functions are exported (the library is built with hidden visibility).
#pragma GCC visibility push(default)
#include "slimcache/client.h"
#pragma GCC visibility pop

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>

#include "agent/cache/tier_reader.hpp"
#include "agent/engine/engine_segment.hpp"
#include "agent/exec/exec_client.hpp"
#include "agent/exec/expert_kernel.hpp"
#include "platform/clock.hpp"

struct slimcache_client {
  std::optional<slimcache::agent::engine::EngineSegment> engine;
  std::unique_ptr<slimcache::agent::cache::TierReader> tier;  // null without a memory tier
  std::string exec_path;                                       // the daemon's execution socket
  std::unique_ptr<slimcache::agent::exec::ExecConnection> exec;  // connected lazily
  std::uint64_t next_request = 1;
};

namespace {

constexpr auto k_lease = std::chrono::seconds(30);
// The daemon answers within its forward timeout plus a local load; this only catches a hung daemon.
constexpr auto k_exec_timeout = std::chrono::seconds(60);

void set_error(char* buf, std::size_t len, const std::string& message) {
  if (buf == nullptr || len == 0) return;
  const std::size_t n = std::min(len - 1, message.size());
  std::memcpy(buf, message.data(), n);
  buf[n] = '\0';
}

}  // namespace

extern "C" {

uint32_t slimcache_abi_version(void) { return SLIMCACHE_CLIENT_ABI_VERSION; }

const char* slimcache_status_string(int status) {
  switch (status) {
    case SLIMCACHE_OK: return "ok";
    case SLIMCACHE_E_INVALID: return "invalid argument";
    case SLIMCACHE_E_UNAVAILABLE: return "slimcached segment not available";
    case SLIMCACHE_E_NOT_RESIDENT: return "expert not resident in memory";
    case SLIMCACHE_E_LEASE_LOST: return "lease lost: renew it";
    case SLIMCACHE_E_INCOMPATIBLE: return "incompatible segment layout";
    case SLIMCACHE_E_NOMEM: return "out of memory";
    case SLIMCACHE_E_BUSY: return "busy: try again";
    case SLIMCACHE_E_EXPERT_FAILED: return "an expert could not be run on any node";
    case SLIMCACHE_E_EXEC_UNAVAILABLE: return "slimcached execution socket not set or not answering";
    default: return "unknown status";
  }
}

int slimcache_open(const char* name, slimcache_client** out, char* errbuf, size_t errlen) {
  if (name == nullptr || out == nullptr || *name == '\0') {
    set_error(errbuf, errlen, "name and out must be given");
    return SLIMCACHE_E_INVALID;
  }
  *out = nullptr;
  auto* client = new (std::nothrow) slimcache_client;
  if (client == nullptr) return SLIMCACHE_E_NOMEM;
  auto engine = slimcache::agent::engine::EngineSegment::open(name);
  if (!engine) {
    set_error(errbuf, errlen, engine.error().message);
    delete client;
    return engine.error().message.find("layout version") != std::string::npos ? SLIMCACHE_E_INCOMPATIBLE
                                                                                : SLIMCACHE_E_UNAVAILABLE;
  }
  client->engine.emplace(std::move(engine).value());
  // The memory tier is optional (memory budget 0): pin then reports not resident.
  auto tier = slimcache::agent::cache::TierReader::open(name, slimcache::platform::SystemClock::instance(), k_lease);
  if (tier) client->tier = std::move(tier).value();
  *out = client;
  return SLIMCACHE_OK;
}

void slimcache_close(slimcache_client* client) { delete client; }

uint32_t slimcache_num_layers(const slimcache_client* client) { return client ? client->engine->num_layers() : 0; }
uint32_t slimcache_num_experts(const slimcache_client* client) { return client ? client->engine->num_experts() : 0; }

int slimcache_record(slimcache_client* client, uint32_t layer, const uint16_t* experts, uint32_t k) {
  if (client == nullptr || experts == nullptr) return SLIMCACHE_E_INVALID;
  const auto r = client->engine->record(layer, {experts, k});
  return r == slimcache::agent::engine::RecordResult::k_recorded ? SLIMCACHE_OK : SLIMCACHE_E_INVALID;
}

int slimcache_locate(slimcache_client* client, uint32_t layer, uint32_t expert, slimcache_where* out) {
  if (client == nullptr || out == nullptr) return SLIMCACHE_E_INVALID;
  if (layer >= client->engine->num_layers() || expert >= client->engine->num_experts()) return SLIMCACHE_E_INVALID;
  slimcache::agent::engine::Location loc;
  if (!client->engine->locate(layer, expert, loc)) return SLIMCACHE_E_BUSY;
  std::memset(out, 0, sizeof *out);
  out->location = loc.where;
  if (client->tier && client->tier->is_resident(layer, expert)) out->location = SLIMCACHE_MEMORY;
  out->holders = loc.holders;
  for (std::uint32_t i = 0; i < loc.holders; ++i) {
    std::memcpy(out->holder[i].name, loc.nodes[i].name, sizeof out->holder[i].name);
    std::memcpy(out->holder[i].address, loc.nodes[i].address, sizeof out->holder[i].address);
  }
  return SLIMCACHE_OK;
}

int slimcache_pin(slimcache_client* client, uint32_t layer, uint32_t expert, slimcache_expert* out) {
  if (client == nullptr || out == nullptr) return SLIMCACHE_E_INVALID;
  if (layer >= client->engine->num_layers() || expert >= client->engine->num_experts()) return SLIMCACHE_E_INVALID;
  if (!client->tier) return SLIMCACHE_E_NOT_RESIDENT;
  slimcache::agent::cache::PinnedExpert pinned;
  switch (client->tier->try_pin(layer, expert, pinned)) {
    case slimcache::agent::cache::PinResult::k_pinned:
      out->data = pinned.data;
      out->size = pinned.size;
      out->token = pinned.index;
      out->reserved = 0;
      return SLIMCACHE_OK;
    case slimcache::agent::cache::PinResult::k_not_resident:
      return SLIMCACHE_E_NOT_RESIDENT;
    case slimcache::agent::cache::PinResult::k_lease_lost:
      return SLIMCACHE_E_LEASE_LOST;
  }
  return SLIMCACHE_E_INVALID;
}

void slimcache_unpin(slimcache_client* client, const slimcache_expert* expert) {
  if (client == nullptr || expert == nullptr || !client->tier) return;
  slimcache::agent::cache::PinnedExpert pinned;
  pinned.data = static_cast<const std::byte*>(expert->data);
  pinned.size = expert->size;
  pinned.index = expert->token;
  client->tier->unpin(pinned);
}

int slimcache_renew_lease(slimcache_client* client) {
  if (client == nullptr) return SLIMCACHE_E_INVALID;
  if (!client->tier) return SLIMCACHE_OK;
  return client->tier->renew_lease() ? SLIMCACHE_OK : SLIMCACHE_E_LEASE_LOST;
}

int slimcache_set_exec_socket(slimcache_client* client, const char* path) {
  if (client == nullptr || path == nullptr || *path == '\0') return SLIMCACHE_E_INVALID;
  client->exec_path = path;
  client->exec.reset();
  return SLIMCACHE_OK;
}

int slimcache_moe_forward(slimcache_client* client, uint32_t layer, uint32_t k, const uint16_t* topk_ids,
                          const float* gate_weights, const float* hidden, uint32_t hidden_len, float* out,
                          slimcache_moe_report* report) {
  namespace exec = slimcache::agent::exec;
  if (client == nullptr || topk_ids == nullptr || gate_weights == nullptr || hidden == nullptr || out == nullptr)
    return SLIMCACHE_E_INVALID;
  if (layer >= client->engine->num_layers() || k == 0 || k > exec::k_max_request_experts || hidden_len == 0)
    return SLIMCACHE_E_INVALID;
  for (uint32_t i = 0; i < k; ++i) {
    if (topk_ids[i] >= client->engine->num_experts()) return SLIMCACHE_E_INVALID;
  }
  slimcache_moe_report local_report{};
  slimcache_moe_report& rep = report != nullptr ? *report : local_report;
  rep = {};
  try {
    (void)client->engine->record(layer, {topk_ids, k});
    const std::span<const float> x(hidden, hidden_len);
    std::vector<float> outputs(static_cast<std::size_t>(k) * hidden_len, 0.0f);  // [expert][hidden]

    // 1. Experts resident here: pin (zero-copy) and run in this thread. The rest go to the daemon.
    std::vector<slimcache::agent::cache::PinnedExpert> pins;
    std::vector<exec::ExpertJob> jobs;
    exec::ExecuteRequest request;
    std::vector<uint32_t> remote_slot;  // request.experts[j] answers outputs slot remote_slot[j]
    for (uint32_t i = 0; i < k; ++i) {
      slimcache::agent::cache::PinnedExpert pinned;
      if (client->tier && client->tier->try_pin(layer, topk_ids[i], pinned) == slimcache::agent::cache::PinResult::k_pinned) {
        auto view = exec::decode_expert_payload(pinned.bytes());
        if (view && view->hidden == hidden_len) {
          pins.push_back(pinned);
          jobs.push_back({*view, x, 1, std::span(outputs).subspan(static_cast<std::size_t>(i) * hidden_len, hidden_len)});
          continue;
        }
        client->tier->unpin(pinned);
      }
      std::string holder;
      slimcache::agent::engine::Location loc;
      if (client->engine->locate(layer, topk_ids[i], loc) && loc.where == slimcache::agent::engine::layout::k_peer && loc.holders > 0) {
        holder.assign(loc.nodes[0].address, ::strnlen(loc.nodes[0].address, sizeof loc.nodes[0].address));
      }
      request.experts.push_back({topk_ids[i], holder});
      remote_slot.push_back(i);
    }
    auto unpin_all = [&] {
      for (const auto& p : pins) client->tier->unpin(p);
    };

    // 2. Send the others first, so the daemon and the peers work while this thread computes.
    bool sent = false;
    if (!request.experts.empty()) {
      if (client->exec_path.empty()) {
        unpin_all();
        return SLIMCACHE_E_EXEC_UNAVAILABLE;
      }
      request.request_id = client->next_request++;
      request.model = client->engine->model();
      request.layer = layer;
      request.tokens = 1;
      request.hidden = hidden_len;
      request.x.assign(hidden, hidden + hidden_len);
      for (int attempt = 0; attempt < 2 && !sent; ++attempt) {  // a stale connection is replaced once
        if (!client->exec) {
          auto stream = exec::connect_unix(client->exec_path, k_exec_timeout);
          if (!stream) break;
          client->exec = std::make_unique<exec::ExecConnection>(std::move(stream).value());
        }
        sent = client->exec->send(request).has_value();
        if (!sent) client->exec.reset();
      }
      if (!sent) {
        unpin_all();
        return SLIMCACHE_E_EXEC_UNAVAILABLE;
      }
    }
    const bool ran = jobs.empty() || exec::run_experts(jobs).has_value();
    unpin_all();
    rep.in_process = ran ? static_cast<uint32_t>(jobs.size()) : 0;
    int status = ran ? SLIMCACHE_OK : SLIMCACHE_E_EXPERT_FAILED;
    if (!ran) rep.failed += static_cast<uint32_t>(jobs.size());

    // 3. Collect the daemon's answer.
    if (sent) {
      auto answer = client->exec->receive(request.request_id);
      if (!answer || answer->experts.size() != request.experts.size()) {
        if (!client->exec->healthy()) client->exec.reset();
        return SLIMCACHE_E_EXEC_UNAVAILABLE;
      }
      for (std::size_t j = 0; j < answer->experts.size(); ++j) {
        auto& e = answer->experts[j];
        if (e.status != exec::ExpertStatus::k_ok || e.y.size() != hidden_len) {
          ++rep.failed;
          status = SLIMCACHE_E_EXPERT_FAILED;
          continue;
        }
        std::copy(e.y.begin(), e.y.end(), outputs.begin() + static_cast<std::ptrdiff_t>(remote_slot[j]) * hidden_len);
        if (e.served == exec::ServedFrom::k_peer) {
          ++rep.peer;
        } else {
          ++rep.daemon;
        }
      }
    }
    if (status != SLIMCACHE_OK) return status;

    // 4. The gate-weighted sum, in the order given.
    const bool summed = exec::gate_weighted_sum(outputs, k, 1, hidden_len, {gate_weights, k}, {out, hidden_len}).has_value();
    return summed ? SLIMCACHE_OK : SLIMCACHE_E_INVALID;
  } catch (const std::bad_alloc&) {
    return SLIMCACHE_E_NOMEM;
  }
}

}  // extern "C"
