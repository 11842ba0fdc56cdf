#include "platform/shared_memory.hpp"

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>

namespace slimcache::platform {

namespace bip = boost::interprocess;

struct SharedMemory::Impl {
  bip::shared_memory_object object;
  bip::mapped_region region;
};

SharedMemory::SharedMemory() = default;
SharedMemory::SharedMemory(SharedMemory&&) noexcept = default;
SharedMemory& SharedMemory::operator=(SharedMemory&&) noexcept = default;
SharedMemory::~SharedMemory() = default;

namespace {
EnvErrc code_of(const bip::interprocess_exception& e) {
  switch (e.get_error_code()) {
    case bip::not_found_error: return EnvErrc::k_not_found;
    case bip::already_exists_error: return EnvErrc::k_exists;
    case bip::security_error: return EnvErrc::k_permission;
    case bip::out_of_space_error: return EnvErrc::k_no_space;
    default: return EnvErrc::k_io;
  }
}
}  // namespace

EnvResult<SharedMemory> SharedMemory::create(const std::string& name, std::size_t size, ShmCreate mode) {
  try {
    if (mode == ShmCreate::k_replace) bip::shared_memory_object::remove(name.c_str());
    auto impl = std::make_unique<Impl>();
    impl->object = bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write);
    impl->object.truncate(static_cast<bip::offset_t>(size));
    impl->region = bip::mapped_region(impl->object, bip::read_write);
    SharedMemory shm;
    shm.m_data = static_cast<std::byte*>(impl->region.get_address());
    shm.m_size = impl->region.get_size();
    shm.m_writable = true;
    shm.m_impl = std::move(impl);
    return shm;
  } catch (const bip::interprocess_exception& e) {
    return Unexpected(EnvError{code_of(e), "/dev/shm/" + name, std::string("create shared memory: ") + e.what()});
  }
}

EnvResult<SharedMemory> SharedMemory::open(const std::string& name, ShmAccess access) {
  try {
    const auto mode = access == ShmAccess::k_read_write ? bip::read_write : bip::read_only;
    auto impl = std::make_unique<Impl>();
    impl->object = bip::shared_memory_object(bip::open_only, name.c_str(), mode);
    impl->region = bip::mapped_region(impl->object, mode);
    SharedMemory shm;
    shm.m_data = static_cast<std::byte*>(impl->region.get_address());
    shm.m_size = impl->region.get_size();
    shm.m_writable = access == ShmAccess::k_read_write;
    shm.m_impl = std::move(impl);
    return shm;
  } catch (const bip::interprocess_exception& e) {
    return Unexpected(EnvError{code_of(e), "/dev/shm/" + name, std::string("open shared memory: ") + e.what()});
  }
}

bool SharedMemory::remove(const std::string& name) {
  try {
    return bip::shared_memory_object::remove(name.c_str());
  } catch (const bip::interprocess_exception&) {
    return false;
  }
}

}  // namespace slimcache::platform
