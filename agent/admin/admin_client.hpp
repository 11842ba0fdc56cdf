#pragma once
// slimctl's side of the admin socket: one blocking request/response with a timeout.
//
// Errors: k_unavailable when nothing listens on the socket (the daemon is not running),
// k_permission_denied when the socket or the daemon refuses us, k_timeout when no frame
// arrives within `timeout`, or the daemon's own error. Progress frames go to on_progress
// and restart the timeout. Thread-compatible; opens one connection per call.
#include <chrono>
#include <functional>
#include <string>

#include "agent/admin/admin_protocol.hpp"

namespace slimcache::agent::admin {

struct ClientOptions {
  std::string path;
  std::chrono::milliseconds timeout{10'000};
};

[[nodiscard]] Expected<nlohmann::json, Error> call(
    const ClientOptions& options, const std::string& cmd, const nlohmann::json& args = nlohmann::json::object(),
    const std::function<void(const nlohmann::json&)>& on_progress = {});

}  // namespace slimcache::agent::admin
