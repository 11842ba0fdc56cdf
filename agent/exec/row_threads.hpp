#pragma once
// A fixed set of worker threads that runs the parts of one job and waits for them: the
// kernel's optional way to split matrix rows over several cores.
//
// run(parts, fn) calls fn(0) .. fn(parts - 1), each exactly once, on the workers and on the
// calling thread, and returns when all calls have returned. fn must not throw. One run at a
// time: run() is not reentrant and must be called from one thread at a time (the owner).
// The destructor stops and joins the workers. threads() counts the caller, so
// RowThreads(1) starts no thread at all.
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace slimcache::agent::exec {

class RowThreads {
 public:
  explicit RowThreads(unsigned threads);
  ~RowThreads();
  RowThreads(const RowThreads&) = delete;
  RowThreads& operator=(const RowThreads&) = delete;

  [[nodiscard]] unsigned threads() const { return static_cast<unsigned>(m_workers.size()) + 1; }
  void run(std::size_t parts, const std::function<void(std::size_t)>& fn);

 private:
  void worker_loop();
  bool take_and_run_one(std::unique_lock<std::mutex>& lock);

  std::mutex m_mutex;
  std::condition_variable m_work;
  std::condition_variable m_done;
  const std::function<void(std::size_t)>* m_fn = nullptr;
  std::size_t m_parts = 0;
  std::size_t m_next = 0;
  std::size_t m_finished = 0;
  bool m_stop = false;
  std::vector<std::thread> m_workers;
};

}  // namespace slimcache::agent::exec
