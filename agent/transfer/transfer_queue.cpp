#include "agent/transfer/transfer_queue.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

namespace slimcache::agent::transfer {

TransferQueue::TransferQueue(TransferClient& client, std::size_t max_parallel) : m_client(client) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC | O_NONBLOCK) == 0) {
    m_cancel_read = fds[0];
    m_cancel_write = fds[1];
  }
  max_parallel = std::max<std::size_t>(max_parallel, 1);
  for (std::size_t i = 0; i < max_parallel; ++i) m_workers.emplace_back([this] { worker(); });
}

TransferQueue::~TransferQueue() {
  std::vector<std::pair<BlobId, std::vector<FetchCallback>>> dropped;
  {
    std::lock_guard lock(m_mutex);
    m_stopping = true;
    for (const BlobId& id : m_order) {
      auto it = m_entries.find(id);
      dropped.emplace_back(id, std::move(it->second.callbacks));
      m_entries.erase(it);
    }
    m_order.clear();
  }
  if (m_cancel_write >= 0) {
    const char byte = 1;
    (void)!::write(m_cancel_write, &byte, 1);
  }
  m_wake.notify_all();
  for (auto& t : m_workers) t.join();
  const FetchOutcome cancelled = Unexpected(TransferError{TransferErrc::k_cancelled, "transfer queue stopped"});
  for (auto& [id, callbacks] : dropped) {
    for (auto& cb : callbacks) cb(id, cancelled);
  }
  if (m_cancel_read >= 0) ::close(m_cancel_read);
  if (m_cancel_write >= 0) ::close(m_cancel_write);
}

void TransferQueue::submit(FetchJob job, FetchCallback done) {
  const BlobId id = job.id;
  submit_work(
      id, [this, job = std::move(job)](int cancel_fd) { return m_client.fetch(job.peer, job.id, cancel_fd); },
      std::move(done));
}

void TransferQueue::submit_work(const BlobId& key, FetchWork work, FetchCallback done) {
  {
    std::unique_lock lock(m_mutex);
    if (m_stopping) {
      lock.unlock();
      done(key, Unexpected(TransferError{TransferErrc::k_cancelled, "transfer queue stopped"}));
      return;
    }
    auto it = m_entries.find(key);
    if (it != m_entries.end()) {
      it->second.callbacks.push_back(std::move(done));
      return;
    }
    m_entries.emplace(key, Entry{std::move(work), {std::move(done)}});
    m_order.push_back(key);
  }
  m_wake.notify_one();
}

void TransferQueue::worker() {
  for (;;) {
    FetchWork work;
    BlobId id;
    {
      std::unique_lock lock(m_mutex);
      m_wake.wait(lock, [&] { return m_stopping || !m_order.empty(); });
      if (m_stopping) return;
      id = m_order.front();
      m_order.pop_front();
      work = m_entries.at(id).work;
      ++m_active;
      m_peak = std::max(m_peak, m_active);
    }
    const FetchOutcome outcome = work(m_cancel_read);
    std::vector<FetchCallback> callbacks;
    {
      std::lock_guard lock(m_mutex);
      auto it = m_entries.find(id);
      callbacks = std::move(it->second.callbacks);
      m_entries.erase(it);
    }
    for (auto& cb : callbacks) cb(id, outcome);
    {
      std::lock_guard lock(m_mutex);
      --m_active;
      if (m_active == 0 && m_order.empty()) m_idle.notify_all();
    }
  }
}

void TransferQueue::wait_idle() {
  std::unique_lock lock(m_mutex);
  m_idle.wait(lock, [&] { return m_active == 0 && m_order.empty(); });
}

std::size_t TransferQueue::active() const {
  std::lock_guard lock(m_mutex);
  return m_active;
}

std::size_t TransferQueue::queued() const {
  std::lock_guard lock(m_mutex);
  return m_order.size();
}

std::size_t TransferQueue::peak_active() const {
  std::lock_guard lock(m_mutex);
  return m_peak;
}

}  // namespace slimcache::agent::transfer
