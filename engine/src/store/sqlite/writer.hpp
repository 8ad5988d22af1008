// Private to the SQLite store: its writer and its checkpointer (docs/storage.md).
//
// The writer owns the one write connection. commit(), update_outbox(), deploy() and the rest
// queue a job (store/group_writer.hpp) and wait; the writer thread takes every queued job (up
// to max_batch), opens one BEGIN IMMEDIATE transaction and runs the jobs in it. A job that
// ends in an error (a version conflict, a refused deploy, a failed statement) leaves the
// other jobs of the batch alone (see Writer::run_batch). One COMMIT (one fsync of the WAL with
// synchronous=FULL) makes the whole batch durable; only then are the callers answered.
//
// The checkpointer copies the WAL back into the database file on its own thread and
// connection, so that no commit waits for a checkpoint.
//
// Thread safety: Writer::write() may be called from any thread; the job bodies (apply, ...)
// run on the writer thread only. Checkpointer::on_commit runs on the writer thread.
#pragma once

#include "store/group_writer.hpp"
#include "store/sqlite/connection.hpp"
#include "store/sqlite/store.hpp"
#include "store/store_common.hpp"

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <expected>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace onevisit::engine::sqlite {

/// A case's latest event and its version (the head of its chain of events).
inline constexpr const char* kSelectLastEvent = "SELECT last_event, version FROM cases WHERE case_id = ?";

/// A command's idempotency record and the case it was for: in `commands` (case starts,
/// commits without events, records from before schema 5), else on the command's last event
/// in `case_id`'s chain (docs/storage.md, Idempotency). The CommitResult is marked duplicate.
std::expected<std::optional<store_common::CommandRecord>, StoreError> find_record(Connection& c,
                                                                                  const std::string& case_id,
                                                                                  const std::string& command_id);

class Writer {
 public:
  using Queue = store_common::GroupWriter<Writer>;
  template <typename T>
  using Body = typename store_common::TypedJob<Writer, T>::Body;

  Writer(std::unique_ptr<Connection> connection, std::size_t max_batch, store_common::Sealer sealer);
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;
  ~Writer() { stop(); }

  void start();
  /// Finishes every queued job, then stops the thread. Idempotent.
  void stop() noexcept { queue_.stop(); }

  /// Queues `body` and waits for its batch to commit.
  template <typename T>
  std::expected<T, StoreError> write(Body<T> body) {
    return queue_.template write<T>(std::move(body));
  }

  SqliteStoreStats stats() const;

  // The job bodies; they run on the writer thread inside a transaction.
  std::expected<CommitResult, StoreError> apply(const CommitRequest& r);
  // Why `r` cannot be applied (store_common::refusal). Reads only.
  std::expected<std::optional<CommitResult>, StoreError> refusal(const CommitRequest& r);
  std::expected<void, StoreError> apply(const OutboxRecord& o);
  std::expected<bool, StoreError> apply(const DeployedWorkflow& w);
  // Seals up to `limit` values of one personal column after rowid `after` under the current
  // key (those not sealed under it yet); the last rowid read and how many were sealed.
  struct ResealStep {
    std::int64_t last_rowid = 0;
    std::size_t read = 0;
    std::uint64_t resealed = 0;
  };
  std::expected<ResealStep, StoreError> reseal(std::string_view table, std::string_view column, std::int64_t after,
                                               std::size_t limit);
  // Forgets the check values of every key but the current one; returns their ids. The search
  // index's key is sealed under the current key first, so it outlives the older keys.
  std::expected<std::vector<std::string>, StoreError> retire_old_keys();
  // Indexes a case from before the search index (Store::index_case).
  std::expected<void, StoreError> index_case(const std::string& case_id, const std::vector<std::string>& tokens,
                                             const std::vector<std::string>& actors);

 private:
  // Replaces the payloads `r` names in its case's history and outbox (erasure).
  std::expected<void, StoreError> rewrite(const CommitRequest& r);
  enum class Attempt { done, needs_savepoints };
  void run_batch(Queue::Batch& batch);
  // One transaction over `batch`; sets batch_error when the transaction as a whole failed.
  Attempt run_transaction(Queue::Batch& batch, bool savepoints, std::optional<StoreError>& batch_error);
  // Rolls back what a batch left open (run_batch threw).
  void abandon() noexcept;
  std::expected<void, StoreError> control(const char* sql) {
    auto stmt = connection_->prepare(sql);
    if (!stmt) return std::unexpected(stmt.error());
    return stmt->run();
  }

  std::unique_ptr<Connection> connection_;
  const store_common::Sealer sealer_;
  std::atomic<std::uint64_t> fallbacks_{0};
  Queue queue_;  // last: stopped before the members its thread uses go
};

// The checkpointer: copies the WAL back into the database file on its own thread and
// connection (PASSIVE: it never waits for, nor blocks, the writer or the readers), so that no
// commit waits for a checkpoint. The writer's WAL hook asks for one when the WAL holds
// SqliteOptions::checkpoint_frames pages; the writer restarts the WAL from its beginning at
// its next transaction once everything in it has been copied.
class Checkpointer {
 public:
  // `frames`: SqliteOptions::checkpoint_frames.
  Checkpointer(std::unique_ptr<Connection> connection, int frames)
      : connection_(std::move(connection)), frames_(frames > 0 ? frames : 8000) {}
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;
  ~Checkpointer() { stop(); }

  void start() {
    thread_ = std::thread([this] { loop(); });
  }

  /// Stops the thread and closes the connection (before the writer's, which must be the last
  /// to close so that it checkpoints and removes the WAL). Idempotent.
  void stop() noexcept;

  /// sqlite3_wal_hook callback of the write connection: runs on the writer thread after each
  /// commit with the number of frames in the WAL.
  static int on_commit(void* self, sqlite3*, const char*, int frames);

  std::uint64_t checkpoints() const { return checkpoints_.load(); }
  std::uint64_t frames_written() const { return frames_written_.load(); }

 private:
  void request() noexcept;
  void loop() noexcept;
  // Frames (pages) the writer appended to the WAL: the WAL holds `frames` after a commit, and
  // fewer than before means the writer restarted it from the beginning.
  void count_frames(int frames) noexcept {
    const auto now = static_cast<std::uint64_t>(frames);
    if (now < wal_frames_) next_request_ = static_cast<std::uint64_t>(frames_);  // a new WAL
    frames_written_.fetch_add(now >= wal_frames_ ? now - wal_frames_ : now);
    wal_frames_ = now;
  }

  std::unique_ptr<Connection> connection_;
  const int frames_;
  std::uint64_t wal_frames_ = 0;  // writer thread only
  // The WAL's length at which the next checkpoint is asked for (writer thread only): frames_
  // in a new WAL, then frames_ more than at the last request while the WAL cannot start
  // again (commits keep coming, a reader holds an old snapshot), not at every commit.
  std::uint64_t next_request_ = static_cast<std::uint64_t>(frames_);
  std::atomic<std::uint64_t> frames_written_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> requested_{false};
  bool stopping_ = false;
  std::thread thread_;
  std::atomic<std::uint64_t> checkpoints_{0};
};

}  // namespace onevisit::engine::sqlite
