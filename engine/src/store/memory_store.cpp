// A Store in memory, with the same semantics as the SQLite one (minus durability): the same
// request validation (store_common.hpp) and the store contract's tests
// (tests/engine/store_contract_test.cpp) hold it to them.
#include <onevisit/engine/engine.hpp>

#include "store/store_common.hpp"

#include <algorithm>
#include <map>
#include <mutex>
#include <set>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

namespace onevisit::engine {

namespace {

class MemoryStore final : public Store {
 public:
  std::expected<CommitResult, StoreError> commit(const CommitRequest& request) override {
    if (auto error = store_common::validate(request)) return std::unexpected(*error);
    std::lock_guard lock(mutex_);
    // One lookup of the case serves the version check and the write: with 100,000 cases each
    // lookup is a cache miss (docs/performance.md).
    const auto existing = cases_.find(request.case_id);
    if (!request.command_id.empty()) {
      if (auto seen = find_record(request.case_id, request.command_id)) {
        // The same id on another case is a client's bug, not a retry (as on SQLite).
        if (seen->first != request.case_id) {
          return std::unexpected(StoreError{StoreError::Kind::invalid, "command id \"" + request.command_id +
                                                                           "\" was already used for case \"" + seen->first +
                                                                           "\", not \"" + request.case_id + "\""});
        }
        return seen->second;
      }
    }
    if (existing == cases_.end() && request.expected_version > 0) {
      return std::unexpected(StoreError{StoreError::Kind::not_found, "case " + request.case_id + ": expected at version " +
                                                                        std::to_string(request.expected_version) +
                                                                        ", but there is no such case"});
    }
    const std::uint64_t current = existing == cases_.end() ? 0 : existing->second.summary.version;
    if (current != request.expected_version) {
      return std::unexpected(StoreError{StoreError::Kind::version_conflict, "case " + request.case_id + " is at version " +
                                                                              std::to_string(current) + ", not " +
                                                                              std::to_string(request.expected_version)});
    }
    if (existing != cases_.end() && (existing->second.summary.bundle_id != request.summary.bundle_id ||
                                     existing->second.summary.bundle_version != request.summary.bundle_version)) {
      return std::unexpected(StoreError{StoreError::Kind::invalid, "case " + request.case_id + " runs on " +
                                                                       existing->second.summary.bundle_id + " version " +
                                                                       std::to_string(existing->second.summary.bundle_version) +
                                                                       " and cannot move to another workflow version"});
    }
    // Erasure replaces earlier payloads in place: every one named must exist, checked before
    // anything changes.
    for (const auto& e : request.rewrite_events) {
      const bool found = existing != cases_.end() && e.sequence >= 1 && e.sequence <= existing->second.events.size() &&
                         existing->second.events[e.sequence - 1].type == e.type;
      if (!found) {
        return std::unexpected(StoreError{StoreError::Kind::invalid, "case " + request.case_id + " has no " + e.type + " event " +
                                                                         std::to_string(e.sequence) + " to rewrite"});
      }
    }
    for (const auto& [id, payload] : request.rewrite_outbox) {
      const auto it = outbox_.find(id);
      if (it == outbox_.end() || it->second.case_id != request.case_id) {
        return std::unexpected(StoreError{StoreError::Kind::invalid, "case " + request.case_id + " has no outbox entry " + std::to_string(id)});
      }
    }
    auto& c = existing != cases_.end() ? existing->second : cases_[request.case_id];
    // The store keeps what only it may decide: the case's id, its start, its channel.
    const CaseSummary before = c.summary;
    c.summary = request.summary;
    c.summary.case_id = request.case_id;
    if (request.expected_version > 0) {
      c.summary.started_at = before.started_at;
      c.summary.channel = before.channel;
    }
    for (const auto& e : request.rewrite_events) c.events[e.sequence - 1].payload = e.payload;
    for (const auto& [id, payload] : request.rewrite_outbox) outbox_[id].payload = payload;
    if (!request.snapshot.empty()) {
      c.snapshot = request.snapshot;
      c.snapshot_version = request.summary.version;
    }
    c.events.insert(c.events.end(), request.events.begin(), request.events.end());
    for (const auto& row : request.items) {
      const auto it = std::find_if(c.items.begin(), c.items.end(), [&](const ItemRow& r) { return r.item_id == row.item_id; });
      if (it == c.items.end()) {
        c.items.push_back(row);
      } else {
        *it = row;
      }
    }
    // Timers and calls belong to the request's case (they may leave their case_id empty).
    // A case has a few timers: they live with it, not in a tree of string pairs.
    for (const auto& id : request.cancel_timers) {
      std::erase_if(c.timers, [&](const TimerRecord& t) { return t.timer_id == id; });
    }
    for (auto t : request.set_timers) {
      t.case_id = request.case_id;
      const auto it = std::find_if(c.timers.begin(), c.timers.end(), [&](const TimerRecord& o) { return o.timer_id == t.timer_id; });
      if (it == c.timers.end()) {
        c.timers.push_back(std::move(t));
      } else {
        *it = std::move(t);
      }
    }
    for (auto o : request.outbox) {
      if (outbox_keys_.contains(o.idempotency_key)) continue;
      o.id = ++next_outbox_;
      o.case_id = request.case_id;
      outbox_keys_.insert(o.idempotency_key);
      outbox_.emplace(o.id, std::move(o));
    }
    for (const auto& t : request.remove_search_tokens) c.tokens.erase(t);
    c.tokens.insert(request.add_search_tokens.begin(), request.add_search_tokens.end());
    if (!request.actor.empty()) c.actors.insert(request.actor);
    if (request.case_number && request.expected_version == 0) {
      auto& last = case_sequences_[request.case_number->day];
      last = std::max(last, request.case_number->sequence);
    }
    CommitResult result{false, request.summary.version, request.result};
    if (!request.command_id.empty()) {
      // Scoped as in the SQLite store: case starts and commits without events by id alone.
      const bool by_id_alone = request.expected_version == 0 || request.events.empty();
      commands_.emplace(command_key(by_id_alone ? std::string() : request.case_id, request.command_id),
                        std::pair{request.case_id, result});
    }
    return result;
  }

  // Every event is kept in memory: replaying them is cheaper than a snapshot's JSON, and
  // cached cases are never loaded (docs/performance.md).
  bool wants_snapshots() const override { return false; }

  std::expected<std::optional<CommitResult>, StoreError> find_command(
      const std::string& case_id, const std::string& command_id) override {
    std::lock_guard lock(mutex_);
    if (auto seen = find_record(case_id, command_id)) return std::optional<CommitResult>{seen->second};
    return std::optional<CommitResult>{};
  }

  std::expected<std::optional<StoredCase>, StoreError> load_case(const std::string& case_id) override {
    std::lock_guard lock(mutex_);
    const auto it = cases_.find(case_id);
    if (it == cases_.end()) return std::optional<StoredCase>{};
    const auto& c = it->second;
    StoredCase stored{c.summary, c.snapshot_version, c.snapshot, {}};
    for (const auto& e : c.events) {
      if (e.sequence > c.snapshot_version) stored.events.push_back(e);
    }
    return std::optional<StoredCase>{std::move(stored)};
  }

  std::expected<std::vector<StoredEvent>, StoreError> load_events(const std::string& case_id) override {
    std::lock_guard lock(mutex_);
    const auto it = cases_.find(case_id);
    if (it == cases_.end()) return std::vector<StoredEvent>{};
    return it->second.events;
  }

  std::expected<std::vector<CaseSummary>, StoreError> list_cases(const CaseQuery& q) override {
    std::lock_guard lock(mutex_);
    std::vector<CaseSummary> all;
    for (const auto& [id, c] : cases_) {
      if (case_matches(q, c)) all.push_back(c.summary);
    }
    // As the SQLite store: newest first, then by id.
    std::sort(all.begin(), all.end(), [](const CaseSummary& a, const CaseSummary& b) {
      return a.started_at != b.started_at ? a.started_at > b.started_at : a.case_id < b.case_id;
    });
    std::vector<CaseSummary> out;
    for (std::size_t i = q.offset; i < all.size() && out.size() < q.limit; ++i) out.push_back(all[i]);
    return out;
  }

  std::expected<std::uint64_t, StoreError> count_cases(const CaseQuery& q) override {
    std::lock_guard lock(mutex_);
    const auto n = static_cast<std::uint64_t>(std::count_if(cases_.begin(), cases_.end(), [&](const auto& c) { return case_matches(q, c.second); }));
    return std::min<std::uint64_t>(n, q.limit);
  }

  std::expected<std::uint64_t, StoreError> count_worklist(const CaseQuery& q) override {
    CaseQuery all = q;
    all.offset = 0;
    auto entries = worklist(all);
    if (!entries) return std::unexpected(entries.error());
    return entries->size();
  }

  std::expected<std::vector<std::string>, StoreError> unindexed_cases(std::size_t) override {
    return std::vector<std::string>{};  // indexed by every commit from the start
  }

  std::expected<void, StoreError> index_case(const std::string& case_id, const std::vector<std::string>& tokens,
                                             const std::vector<std::string>& actors) override {
    std::lock_guard lock(mutex_);
    const auto it = cases_.find(case_id);
    if (it == cases_.end()) return std::unexpected(StoreError{StoreError::Kind::not_found, "no case " + case_id});
    it->second.tokens.insert(tokens.begin(), tokens.end());
    it->second.actors.insert(actors.begin(), actors.end());
    return {};
  }

  std::expected<std::vector<WorklistEntry>, StoreError> worklist(const CaseQuery& q) override {
    std::lock_guard lock(mutex_);
    std::vector<WorklistEntry> all;
    for (const auto& [id, c] : cases_) {
      if (q.bundle_id && c.summary.bundle_id != *q.bundle_id) continue;
      if (q.status && c.summary.status != *q.status) continue;
      for (const auto& r : c.items) {
        if (r.final) continue;
        ItemRow shown = r;
        shown.parts.clear();  // not read back (as the SQL stores)
        if (matches(q, r)) all.push_back(WorklistEntry{id, c.summary.bundle_id, shown, ""});
        // A department's worklist lists its pending parts of other departments' joint items.
        if (q.department && std::find(r.parts.begin(), r.parts.end(), *q.department) != r.parts.end()) {
          CaseQuery as_part = q;
          as_part.department.reset();
          if (matches(as_part, r)) all.push_back(WorklistEntry{id, c.summary.bundle_id, shown, *q.department});
        }
      }
    }
    // As the SQLite store: by due date (none last), then by case and item.
    std::sort(all.begin(), all.end(), [](const WorklistEntry& a, const WorklistEntry& b) {
      const auto ka = a.item.due_at == 0 ? INT64_MAX : a.item.due_at, kb = b.item.due_at == 0 ? INT64_MAX : b.item.due_at;
      return std::tie(ka, a.case_id, a.item.item_id) < std::tie(kb, b.case_id, b.item.item_id);
    });
    std::vector<WorklistEntry> out;
    for (std::size_t i = q.offset; i < all.size() && out.size() < q.limit; ++i) out.push_back(all[i]);
    return out;
  }

  std::expected<std::vector<TimerRecord>, StoreError> due_timers(Timestamp now, std::size_t limit) override {
    std::lock_guard lock(mutex_);
    std::vector<TimerRecord> out;
    for (const auto& [id, c] : cases_) {
      for (const auto& t : c.timers) {
        if (t.due_at <= now) out.push_back(t);
      }
    }
    // Oldest first; ties by case and timer id, as the SQLite store's index orders them.
    std::sort(out.begin(), out.end(), [](const TimerRecord& a, const TimerRecord& b) {
      return std::tie(a.due_at, a.case_id, a.timer_id) < std::tie(b.due_at, b.case_id, b.timer_id);
    });
    if (out.size() > limit) out.resize(limit);
    return out;
  }

  std::expected<std::vector<OutboxRecord>, StoreError> pending_outbox(Timestamp now, std::size_t limit) override {
    std::lock_guard lock(mutex_);
    std::vector<OutboxRecord> out;
    for (const auto& [id, o] : outbox_) {
      if (o.status == "pending" && o.next_attempt_at <= now) out.push_back(o);
      if (out.size() >= limit) break;
    }
    return out;
  }

  std::expected<std::vector<OutboxRecord>, StoreError> list_outbox(const std::string& case_id, const std::string& status,
                                                                  std::size_t limit) override {
    std::lock_guard lock(mutex_);
    std::vector<OutboxRecord> out;
    for (const auto& [id, o] : outbox_) {
      if (out.size() >= limit) break;
      if ((case_id.empty() || o.case_id == case_id) && (status.empty() || o.status == status)) out.push_back(o);
    }
    return out;
  }

  std::expected<void, StoreError> update_outbox(const OutboxRecord& record) override {
    if (auto error = store_common::validate(record)) return std::unexpected(*error);
    std::lock_guard lock(mutex_);
    return update(record);
  }

  // All or none, as one transaction would be.
  std::expected<void, StoreError> update_outbox_many(const std::vector<OutboxRecord>& records) override {
    for (const auto& record : records) {
      if (auto error = store_common::validate(record)) return std::unexpected(*error);
    }
    std::lock_guard lock(mutex_);
    for (const auto& record : records) {
      if (!outbox_.contains(record.id)) {
        return std::unexpected(StoreError{StoreError::Kind::not_found, "no outbox entry " + std::to_string(record.id)});
      }
    }
    for (const auto& record : records) {
      if (auto done = update(record); !done) return done;
    }
    return {};
  }

  std::expected<bool, StoreError> deploy(const DeployedWorkflow& w) override {
    if (auto error = store_common::validate(w)) return std::unexpected(*error);
    return deploy_valid(w);
  }

  std::expected<std::uint64_t, StoreError> last_case_number(std::int32_t day) override {
    std::lock_guard lock(mutex_);
    const auto it = case_sequences_.find(day);
    return it == case_sequences_.end() ? std::uint64_t{0} : it->second;
  }

  std::expected<std::uint64_t, StoreError> deployed_versions() override {
    std::lock_guard lock(mutex_);
    return workflows_.size();
  }

  std::expected<std::vector<DeployedWorkflow>, StoreError> list_workflows() override {
    std::lock_guard lock(mutex_);
    std::vector<DeployedWorkflow> out;
    for (const auto& [key, w] : workflows_) {
      DeployedWorkflow copy = w;
      copy.cases = 0;
      for (const auto& [id, c] : cases_) {
        copy.cases += c.summary.bundle_id == w.bundle_id && c.summary.bundle_version == w.version;
      }
      out.push_back(std::move(copy));
    }
    return out;
  }

 private:
  // REQUIRES: mutex_ held; `record` valid.
  std::expected<void, StoreError> update(const OutboxRecord& record) {
    const auto it = outbox_.find(record.id);
    if (it == outbox_.end()) return std::unexpected(StoreError{StoreError::Kind::not_found, "no outbox entry " + std::to_string(record.id)});
    it->second.attempts = record.attempts;
    it->second.next_attempt_at = record.next_attempt_at;
    it->second.status = record.status;
    it->second.last_error = record.last_error;
    return {};
  }

  std::expected<bool, StoreError> deploy_valid(const DeployedWorkflow& w) {
    std::lock_guard lock(mutex_);
    const auto key = std::make_pair(w.bundle_id, w.version);
    if (auto it = workflows_.find(key); it != workflows_.end()) {
      if (it->second.source_hash == w.source_hash) return false;
      return std::unexpected(StoreError{StoreError::Kind::invalid, "bundle " + w.bundle_id + " version " + std::to_string(w.version) +
                                                                       " is already deployed with another source; raise the version"});
    }
    workflows_.emplace(key, w);
    return true;
  }

  struct CaseRecord {
    CaseSummary summary;
    std::string snapshot;
    std::uint64_t snapshot_version = 0;
    std::vector<StoredEvent> events;
    std::vector<ItemRow> items;
    std::vector<TimerRecord> timers;  ///< a case has a few: a vector beats a tree of string pairs
    std::set<std::string> tokens;  ///< search tokens (in clear: nothing here is at rest)
    std::set<std::string> actors;
  };

  static bool case_matches(const CaseQuery& q, const CaseRecord& c) {
    if (q.bundle_id && c.summary.bundle_id != *q.bundle_id) return false;
    if (q.status && c.summary.status != *q.status) return false;
    if (q.channel && c.summary.channel != *q.channel) return false;
    if (q.started_from && c.summary.started_at < *q.started_from) return false;
    if (q.started_before && c.summary.started_at >= *q.started_before) return false;
    if (q.actor && !c.actors.contains(*q.actor)) return false;
    if (q.scope_department &&
        std::none_of(c.items.begin(), c.items.end(), [&](const ItemRow& r) { return r.department == *q.scope_department; })) {
      return false;
    }
    if (q.any_token || q.case_id) {
      const bool by_id = q.case_id && c.summary.case_id == *q.case_id;
      const bool by_token = q.any_token && std::any_of(q.any_token->begin(), q.any_token->end(), [&](const std::string& t) { return c.tokens.contains(t); });
      if (!by_id && !by_token) return false;
    }
    if (q.department || q.item_state || q.due_before) {
      // All item filters hold for one and the same item; department and due date look at open items.
      return std::any_of(c.items.begin(), c.items.end(), [&](const ItemRow& r) {
        if ((q.department || q.due_before) && r.final) return false;
        return matches(q, r);
      });
    }
    return true;
  }

  static bool matches(const CaseQuery& q, const ItemRow& r) {
    if (q.department && r.department != *q.department) return false;
    if (q.item_state && r.state != *q.item_state) return false;
    if (q.due_before && (r.due_at == 0 || r.due_at > *q.due_before)) return false;
    return true;
  }

  // The idempotency record of `command_id`, by the id alone, then in `case_id`: the case it
  // was for and its result, marked duplicate. REQUIRES: mutex_ held.
  std::optional<std::pair<std::string, CommitResult>> find_record(const std::string& case_id, const std::string& command_id) const {
    for (const auto& scope : {std::string(), case_id}) {
      if (const auto it = commands_.find(command_key(scope, command_id)); it != commands_.end()) {
        auto record = it->second;
        record.second.duplicate = true;
        return record;
      }
    }
    return std::nullopt;
  }

  // An idempotency record's key: its scope ("" for records found by the id alone, else the
  // case id) and the command id, apart by a byte no command id holds (so the split is unique).
  static std::string command_key(const std::string& scope, const std::string& command_id) {
    return scope + '\x1f' + command_id;
  }

  std::mutex mutex_;
  std::map<std::int32_t, std::uint64_t> case_sequences_;  ///< the last generated case number by day
  // Hashed: a district's 100,000 cases make a tree of string keys slow (docs/performance.md).
  // Every listing sorts what it reads, so no order is lost.
  std::unordered_map<std::string, CaseRecord> cases_;
  // Idempotency records by command_key, each with the case it was for and its result.
  std::unordered_map<std::string, std::pair<std::string, CommitResult>> commands_;
  std::map<std::uint64_t, OutboxRecord> outbox_;
  std::unordered_set<std::string> outbox_keys_;
  std::uint64_t next_outbox_ = 0;
  std::map<std::pair<std::string, int>, DeployedWorkflow> workflows_;
};

}  // namespace

std::unique_ptr<Store> make_memory_store() { return std::make_unique<MemoryStore>(); }

}  // namespace onevisit::engine
