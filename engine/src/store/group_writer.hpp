// Private to the engine: the write queue that both SQL stores (SQLite, PostgreSQL) run their
// writes through, and the group commit around it (docs/storage.md, Group commit).
//
// A caller's write becomes a Job: the store validates the request, queues a job whose body
// calls its Writer, and waits on the job's future. One thread per store takes every queued job
// (up to max_batch) and hands the batch to the store's own run_batch, which runs the jobs in
// one transaction and then calls finish(): only then is each caller answered, so nobody sees
// a result that a crash could take back. What a transaction is (BEGIN IMMEDIATE and WAL
// frames, or a server session that may be lost) stays with each store.
//
// Thread safety: submit() and write() may be called from any thread; join_queued() and
// finish() only from inside run_batch (the writer thread).
#pragma once

#include "store/store_common.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <future>
#include <iterator>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>
#include <vector>

#include <pthread.h>

namespace onevisit::engine::store_common {

/// One queued write for a store's `Writer`.
template <typename Writer>
class Job {
 public:
  virtual ~Job() = default;
  /// Runs inside the batch transaction (in the job's savepoint, when it has one). Returns the
  /// job's error (its work is then undone), or nullptr on success. Never throws.
  virtual const StoreError* execute(Writer& writer) noexcept = 0;
  /// Fulfils the promise once: with the outcome, or `batch_error` when the batch did not commit.
  virtual void finish(const StoreError* batch_error) noexcept = 0;
};

/// A job whose body answers a `T`.
template <typename Writer, typename T>
class TypedJob final : public Job<Writer> {
 public:
  using Outcome = std::expected<T, StoreError>;
  using Body = std::function<Outcome(Writer&)>;

  explicit TypedJob(Body body) : body_(std::move(body)) {}
  std::future<Outcome> future() { return promise_.get_future(); }

  const StoreError* execute(Writer& writer) noexcept override {
    executed_ = true;
    try {
      outcome_ = body_(writer);
    } catch (const std::exception& e) {
      outcome_ = fail(Kind::io, std::string("store write failed: ") + e.what());
    } catch (...) {
      outcome_ = fail(Kind::io, "store write failed");
    }
    return outcome_.has_value() ? nullptr : &outcome_.error();
  }

  void finish(const StoreError* batch_error) noexcept override {
    if (finished_) return;
    finished_ = true;
    try {
      // A job refused on its own (a version conflict) keeps its reason; a job that succeeded,
      // or never ran, fails with the batch.
      if (batch_error != nullptr && (!executed_ || outcome_.has_value())) outcome_ = std::unexpected(*batch_error);
      promise_.set_value(std::move(outcome_));
    } catch (...) {
      // set_value only throws when already satisfied, which finished_ rules out.
    }
  }

 private:
  Body body_;
  Outcome outcome_ = fail(Kind::io, "the store closed before the request ran");
  std::promise<Outcome> promise_;
  bool executed_ = false;
  bool finished_ = false;
};

/// The queue of a store's write jobs and the thread that runs them in batches.
template <typename Writer>
class GroupWriter {
 public:
  using Batch = std::vector<std::shared_ptr<Job<Writer>>>;
  /// Runs one batch in one transaction and ends with finish(). May throw (out of memory):
  /// then `abandon` undoes what the open transaction wrote and every job fails.
  using RunBatch = std::function<void(Batch&)>;
  using Abandon = std::function<void()>;

  /// What the writer did since it started.
  struct Counters {
    std::uint64_t writes = 0;         ///< jobs run
    std::uint64_t transactions = 0;   ///< batches committed
    std::uint64_t largest_batch = 0;  ///< most jobs in one batch
  };

  /// REQUIRES: max_batch >= 1 (0 is taken as 1).
  explicit GroupWriter(std::size_t max_batch) : max_batch_(std::max<std::size_t>(max_batch, 1)) {}
  GroupWriter(const GroupWriter&) = delete;
  GroupWriter& operator=(const GroupWriter&) = delete;
  ~GroupWriter() { stop(); }

  /// Starts the thread (named `thread_name` in top -H, perf and gdb; at most 15 characters).
  void start(const char* thread_name, RunBatch run_batch, Abandon abandon) {
    run_batch_ = std::move(run_batch);
    abandon_ = std::move(abandon);
    thread_ = std::thread([this, thread_name] { loop(thread_name); });
  }

  /// Finishes every queued job, then stops the thread. Idempotent. The owner calls it before
  /// anything run_batch uses goes away.
  void stop() noexcept {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::expected<void, StoreError> submit(std::shared_ptr<Job<Writer>> job) {
    {
      std::lock_guard lock(mutex_);
      if (stopping_) return fail(Kind::io, "the store is closing");
      queue_.push_back(std::move(job));
    }
    wake_.notify_one();
    return {};
  }

  /// Queues a job and waits for its batch to commit. What the body refers to lives on the
  /// caller's stack, which stays put until the promise is fulfilled.
  template <typename T>
  std::expected<T, StoreError> write(typename TypedJob<Writer, T>::Body body) {
    auto job = std::make_shared<TypedJob<Writer, T>>(std::move(body));
    auto future = job->future();
    if (auto queued = submit(job); !queued) return std::unexpected(queued.error());
    return future.get();
  }

  /// Moves jobs queued meanwhile into `batch` until it holds max_batch: requests that arrived
  /// while a batch ran join it before its COMMIT and share it.
  void join_queued(Batch& batch) {
    std::lock_guard lock(mutex_);
    take_queued(batch);
  }

  /// Counts the batch and answers each of its jobs: with its outcome, or `batch_error` when
  /// the transaction as a whole failed.
  void finish(Batch& batch, const std::optional<StoreError>& batch_error) noexcept {
    if (!batch_error) transactions_.fetch_add(1);
    writes_.fetch_add(batch.size());
    auto largest = largest_batch_.load();
    while (batch.size() > largest && !largest_batch_.compare_exchange_weak(largest, batch.size())) {
    }
    for (auto& job : batch) job->finish(batch_error ? &*batch_error : nullptr);
  }

  Counters counters() const { return Counters{writes_.load(), transactions_.load(), largest_batch_.load()}; }

 private:
  void loop(const char* thread_name) noexcept {
#ifdef __linux__
    pthread_setname_np(pthread_self(), thread_name);
#endif
    Batch batch;
    for (;;) {
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;  // stopping, and drained
        take_queued(batch);
      }
      try {
        run_batch_(batch);
      } catch (...) {
        const StoreError error{Kind::io, "the store's writer failed (out of memory?); nothing of the batch was written"};
        abandon_();
        for (auto& job : batch) job->finish(&error);  // no-op for jobs already finished
      }
      batch.clear();
    }
  }

  // REQUIRES: mutex_ held.
  void take_queued(Batch& batch) {
    const auto n = std::min(queue_.size(), max_batch_ - std::min(max_batch_, batch.size()));
    batch.insert(batch.end(), std::make_move_iterator(queue_.begin()),
                 std::make_move_iterator(queue_.begin() + static_cast<std::ptrdiff_t>(n)));
    queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
  }

  const std::size_t max_batch_;
  RunBatch run_batch_;
  Abandon abandon_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::shared_ptr<Job<Writer>>> queue_;
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<std::uint64_t> writes_{0};
  std::atomic<std::uint64_t> transactions_{0};
  std::atomic<std::uint64_t> largest_batch_{0};
};

// ---------------------------------------------------------------------------------------
// The Store's write calls, the same on both SQL stores: each validates its request, then
// queues one job on `writer` (whose write<T>(body) waits for the batch) that runs `Writer`'s
// apply(). No exception escapes (guarded).

template <typename Writer>
std::expected<CommitResult, StoreError> commit_through(Writer& writer, const CommitRequest& request) {
  return guarded<CommitResult>([&]() -> std::expected<CommitResult, StoreError> {
    if (auto error = validate(request)) return std::unexpected(*error);
    return writer.template write<CommitResult>([&request](Writer& w) { return w.apply(request); });
  });
}

template <typename Writer>
std::expected<void, StoreError> update_outbox_through(Writer& writer, const OutboxRecord& record) {
  return guarded<void>([&]() -> std::expected<void, StoreError> {
    if (auto error = validate(record)) return std::unexpected(*error);
    return writer.template write<void>([&record](Writer& w) { return w.apply(record); });
  });
}

/// One job for all of `records`: a dispatcher's whole round costs one commit.
template <typename Writer>
std::expected<void, StoreError> update_outbox_many_through(Writer& writer, const std::vector<OutboxRecord>& records) {
  return guarded<void>([&]() -> std::expected<void, StoreError> {
    for (const auto& record : records) {
      if (auto error = validate(record)) return std::unexpected(*error);
    }
    if (records.empty()) return {};
    return writer.template write<void>([&records](Writer& w) -> std::expected<void, StoreError> {
      for (const auto& record : records) {
        if (auto done = w.apply(record); !done) return done;
      }
      return {};
    });
  });
}

template <typename Writer>
std::expected<bool, StoreError> deploy_through(Writer& writer, const DeployedWorkflow& workflow) {
  return guarded<bool>([&]() -> std::expected<bool, StoreError> {
    if (auto error = validate(workflow)) return std::unexpected(*error);
    return writer.template write<bool>([&workflow](Writer& w) { return w.apply(workflow); });
  });
}

}  // namespace onevisit::engine::store_common
