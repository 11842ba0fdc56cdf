#include "agent/admin/admin_client.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "platform/unique_fd.hpp"

namespace slimcache::agent::admin {

namespace {


Unexpected<Error> fail(ErrorCode code, std::string message) { return Unexpected(Error{code, std::move(message)}); }

}  // namespace

Expected<nlohmann::json, Error> call(const ClientOptions& options, const std::string& cmd, const nlohmann::json& args,
                                     const std::function<void(const nlohmann::json&)>& on_progress) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (options.path.empty() || options.path.size() >= sizeof addr.sun_path)
    return fail(ErrorCode::k_bad_arguments, "admin socket path '" + options.path + "' is empty or too long");
  std::memcpy(addr.sun_path, options.path.c_str(), options.path.size() + 1);
  platform::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return fail(ErrorCode::k_failed, std::string("socket: ") + std::strerror(errno));
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ECONNREFUSED)
      return fail(ErrorCode::k_unavailable, "slimcached is not running (nothing listens on " + options.path + ")");
    if (err == EACCES || err == EPERM)
      return fail(ErrorCode::k_permission_denied,
                  "permission denied on " + options.path + " (are you in the slimcache admin group?)");
    return fail(ErrorCode::k_unavailable, "cannot connect to " + options.path + ": " + std::strerror(err));
  }
  Request request;
  request.id = 1;
  request.cmd = cmd;
  request.args = args;
  const auto bytes = encode_request(request);
  for (std::size_t off = 0; off < bytes.size();) {
    const ssize_t n = ::send(fd.get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      // The daemon may have refused us (and closed) before reading: its answer is still queued.
      if (errno == EPIPE || errno == ECONNRESET) break;
      return fail(ErrorCode::k_unavailable, std::string("lost the daemon while sending: ") + std::strerror(errno));
    }
    off += static_cast<std::size_t>(n);
  }
  FrameReader reader;
  std::array<std::uint8_t, 8192> buf{};
  for (;;) {
    while (auto body = reader.next()) {
      auto response = decode_response(*body);
      if (!response) return Unexpected(response.error());
      switch (response->kind) {
        case Response::Kind::k_progress:
          if (on_progress) on_progress(response->body);
          break;
        case Response::Kind::k_result:
          return std::move(response->body);
        case Response::Kind::k_error:
          return Unexpected(response->error);
      }
    }
    pollfd pfd{fd.get(), POLLIN, 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(options.timeout.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) return fail(ErrorCode::k_timeout, "no answer from slimcached within " +
                                                          std::to_string(options.timeout.count()) + " ms");
    const ssize_t n = ::recv(fd.get(), buf.data(), buf.size(), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail(ErrorCode::k_unavailable, "slimcached closed the connection before answering");
    if (auto fed = reader.feed({buf.data(), static_cast<std::size_t>(n)}); !fed) return Unexpected(fed.error());
  }
}

}  // namespace slimcache::agent::admin
