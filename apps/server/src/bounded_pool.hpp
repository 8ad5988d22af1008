// Private to the server: a few threads of its own for slow CPU-bound work (argon2id password
// hashing: login, creating a user, changing a password), with a bounded queue, so that a
// flood of such work never occupies the HTTP request threads (HttpServerOptions::threads,
// few) and other requests keep being answered.
//
// run() hands a job over and waits for its result. When the threads are busy and the queue
// is full it returns nullopt at once, and the caller answers 503: at most
// threads + queue_capacity request threads ever wait here.
//
// Thread safety: run() may be called from any thread. The destructor finishes the jobs it
// has admitted (their callers are waiting) and joins the threads.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <thread>
#include <type_traits>
#include <vector>

namespace onevisit::server {

class BoundedPool {
 public:
  /// REQUIRES: threads >= 1.
  BoundedPool(std::size_t threads, std::size_t queue_capacity);
  ~BoundedPool();
  BoundedPool(const BoundedPool&) = delete;
  BoundedPool& operator=(const BoundedPool&) = delete;

  /// Runs `job` on the pool and returns its result; nullopt at once when the pool is full.
  /// An exception from the job is rethrown here.
  template <class Job>
  auto run(Job job) -> std::optional<std::invoke_result_t<Job&>> {
    std::packaged_task<std::invoke_result_t<Job&>()> task(std::move(job));
    auto result = task.get_future();
    // The task lives on this stack frame until its result is in: run() waits for it.
    if (!admit([&task] { task(); })) return std::nullopt;
    // Counted until the caller has its result (not until the worker is done with the
    // task), so that a caller's next job never finds its own previous one still counted.
    struct Leave {
      BoundedPool& pool;
      ~Leave() { pool.leave(); }
    } leave{*this};
    return result.get();
  }

 private:
  bool admit(std::function<void()> job);
  void leave();
  void work();

  const std::size_t limit_;  ///< callers waiting for their job, at most
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  std::size_t admitted_ = 0;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace onevisit::server
