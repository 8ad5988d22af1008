// A Store for tests that passes every call to another store, counts the calls that scan the
// cases, and can be taken down: then reading a case or committing fails as a database out of
// reach does (StoreError unavailable), as when PostgreSQL restarts under a node.
#pragma once

#include <onevisit/engine/store.hpp>

#include <atomic>
#include <memory>
#include <utility>

namespace onevisit::testing {

class SpyStore final : public engine::Store {
 public:
  using StoreError = engine::StoreError;
  template <typename T>
  using Result = std::expected<T, StoreError>;

  explicit SpyStore(std::shared_ptr<engine::Store> inner) : inner_(std::move(inner)) {}

  std::atomic<bool> down{false};              ///< load_case and commit fail as unavailable
  std::atomic<int> list_workflows_calls{0};   ///< each counts every case per version

  Result<engine::CommitResult> commit(const engine::CommitRequest& r) override {
    if (down) return unavailable();
    return inner_->commit(r);
  }
  bool wants_snapshots() const override { return inner_->wants_snapshots(); }
  Result<std::optional<engine::StoredCase>> load_case(const std::string& id) override {
    if (down) return unavailable();
    return inner_->load_case(id);
  }
  Result<std::vector<engine::StoredEvent>> load_events(const std::string& id) override { return inner_->load_events(id); }
  Result<std::vector<engine::CaseSummary>> list_cases(const engine::CaseQuery& q) override { return inner_->list_cases(q); }
  Result<std::vector<engine::WorklistEntry>> worklist(const engine::CaseQuery& q) override { return inner_->worklist(q); }
  Result<std::uint64_t> count_cases(const engine::CaseQuery& q) override { return inner_->count_cases(q); }
  Result<std::uint64_t> count_worklist(const engine::CaseQuery& q) override { return inner_->count_worklist(q); }
  Result<std::vector<std::string>> unindexed_cases(std::size_t limit) override { return inner_->unindexed_cases(limit); }
  Result<void> index_case(const std::string& id, const std::vector<std::string>& tokens, const std::vector<std::string>& actors) override {
    return inner_->index_case(id, tokens, actors);
  }
  Result<std::optional<engine::CommitResult>> find_command(const std::string& case_id, const std::string& command_id) override {
    return inner_->find_command(case_id, command_id);
  }
  Result<std::vector<engine::TimerRecord>> due_timers(engine::Timestamp now, std::size_t limit) override {
    return inner_->due_timers(now, limit);
  }
  Result<std::vector<engine::OutboxRecord>> pending_outbox(engine::Timestamp now, std::size_t limit) override {
    return inner_->pending_outbox(now, limit);
  }
  Result<void> update_outbox(const engine::OutboxRecord& r) override { return inner_->update_outbox(r); }
  Result<std::vector<engine::OutboxRecord>> list_outbox(const std::string& case_id, const std::string& status, std::size_t limit) override {
    return inner_->list_outbox(case_id, status, limit);
  }
  Result<std::uint64_t> last_case_number(std::int32_t day) override { return inner_->last_case_number(day); }
  Result<bool> deploy(const engine::DeployedWorkflow& w) override { return inner_->deploy(w); }
  Result<std::vector<engine::DeployedWorkflow>> list_workflows() override {
    ++list_workflows_calls;
    return inner_->list_workflows();
  }
  Result<std::vector<engine::DeployedWorkflow>> list_deployed() override { return inner_->list_deployed(); }
  Result<std::optional<engine::DeployedWorkflow>> load_workflow(const std::string& bundle_id, int version) override {
    return inner_->load_workflow(bundle_id, version);
  }
  Result<std::uint64_t> deployed_versions() override { return inner_->deployed_versions(); }

 private:
  static std::unexpected<StoreError> unavailable() {
    return std::unexpected(StoreError{StoreError::Kind::unavailable,
                                      "cannot connect to PostgreSQL (postgresql://onevisit@/district): Connection refused"});
  }
  std::shared_ptr<engine::Store> inner_;
};

}  // namespace onevisit::testing
