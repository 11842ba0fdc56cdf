#include "agent/exec/row_threads.hpp"

namespace slimcache::agent::exec {

RowThreads::RowThreads(unsigned threads) {
  for (unsigned i = 1; i < threads; ++i) m_workers.emplace_back([this] { worker_loop(); });
}

RowThreads::~RowThreads() {
  {
    std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_work.notify_all();
  for (auto& t : m_workers) t.join();
}

bool RowThreads::take_and_run_one(std::unique_lock<std::mutex>& lock) {
  if (m_fn == nullptr || m_next >= m_parts) return false;
  const std::size_t part = m_next++;
  const auto* fn = m_fn;
  lock.unlock();
  (*fn)(part);
  lock.lock();
  if (++m_finished == m_parts) m_done.notify_all();
  return true;
}

void RowThreads::worker_loop() {
  std::unique_lock lock(m_mutex);
  while (!m_stop) {
    if (!take_and_run_one(lock)) m_work.wait(lock);
  }
}

void RowThreads::run(std::size_t parts, const std::function<void(std::size_t)>& fn) {
  if (parts == 0) return;
  if (m_workers.empty() || parts == 1) {
    for (std::size_t p = 0; p < parts; ++p) fn(p);
    return;
  }
  std::unique_lock lock(m_mutex);
  m_fn = &fn;
  m_parts = parts;
  m_next = 0;
  m_finished = 0;
  m_work.notify_all();
  while (take_and_run_one(lock)) {
  }
  m_done.wait(lock, [this] { return m_finished == m_parts; });
  m_fn = nullptr;
}

}  // namespace slimcache::agent::exec
