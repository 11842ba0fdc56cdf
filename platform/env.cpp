#include "platform/env.hpp"

namespace slimcache::platform {

std::string parent_dir(const std::string& path) {
  const auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty()) return name;
  return dir.back() == '/' ? dir + name : dir + "/" + name;
}

EnvResult<std::vector<std::byte>> Env::read_file(const std::string& path) {
  SLIM_TRY(auto file, new_readable_file(path));
  SLIM_TRY(const std::uint64_t size, file->size());
  std::vector<std::byte> data(size);
  SLIM_TRY(const std::size_t got, file->read_at(0, data));
  data.resize(got);
  return data;
}

EnvResult<void> Env::write_file_atomic(const std::string& path, std::span<const std::byte> data) {
  const std::string tmp = path + ".tmp";
  {
    SLIM_TRY(auto file, new_writable_file(tmp));
    SLIM_TRY_VOID(file->append(data));
    SLIM_TRY_VOID(file->sync());
    SLIM_TRY_VOID(file->close());
  }
  SLIM_TRY_VOID(rename_file(tmp, path));
  return sync_dir(parent_dir(path));
}

}  // namespace slimcache::platform
