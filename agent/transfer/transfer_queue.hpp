#pragma once
// Runs fetches with a bound on parallel transfers; the rest wait in FIFO order.
//
// submit() never blocks: the job waits in the queue until one of `max_parallel` worker
// threads takes it. A job for an id already queued or running is not fetched twice: its
// callback joins the running one. Callbacks run on the worker thread that did the fetch
// (the daemon posts them to its io_context). The destructor cancels running fetches
// (k_cancelled, partials kept for resume), answers queued jobs with k_cancelled and joins.
// submit_work() queues any fetch-like work under a de-duplication key (the daemon's expert
// fetches: find the blob on a holder, then fetch it, trying the next holder on failure).
// Threads: every member function is thread-safe.
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "agent/transfer/transfer_client.hpp"

namespace slimcache::agent::transfer {

struct FetchJob {
  Endpoint peer;
  BlobId id;
};

using FetchOutcome = Expected<FetchResult, TransferError>;
using FetchCallback = std::function<void(const BlobId&, const FetchOutcome&)>;
// Runs on a worker thread; a readable cancel_fd means the queue is stopping.
using FetchWork = std::function<FetchOutcome(int cancel_fd)>;

class TransferQueue {
 public:
  TransferQueue(TransferClient& client, std::size_t max_parallel);
  ~TransferQueue();
  TransferQueue(const TransferQueue&) = delete;
  TransferQueue& operator=(const TransferQueue&) = delete;

  void submit(FetchJob job, FetchCallback done);
  void submit_work(const BlobId& key, FetchWork work, FetchCallback done);
  // Blocks until no job is queued or running (the callbacks have returned).
  void wait_idle();
  [[nodiscard]] std::size_t active() const;
  [[nodiscard]] std::size_t queued() const;
  [[nodiscard]] std::size_t peak_active() const;

 private:
  struct Entry {
    FetchWork work;
    std::vector<FetchCallback> callbacks;
  };
  void worker();

  TransferClient& m_client;
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  std::condition_variable m_idle;
  std::deque<BlobId> m_order;
  std::map<BlobId, Entry> m_entries;  // queued or running
  std::size_t m_active = 0;
  std::size_t m_peak = 0;
  bool m_stopping = false;
  int m_cancel_read = -1;
  int m_cancel_write = -1;
  std::vector<std::thread> m_workers;
};

}  // namespace slimcache::agent::transfer
