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
#include "platform/clock.hpp"

struct slimcache_client {
  std::optional<slimcache::agent::engine::EngineSegment> engine;
  std::unique_ptr<slimcache::agent::cache::TierReader> tier;  // null without a memory tier
};

namespace {

constexpr auto k_lease = std::chrono::seconds(30);

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

}  // extern "C"
