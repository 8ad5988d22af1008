// Private to the engine: what the SQL stores (SQLite, PostgreSQL) share, and the checks every
// Store applies to a request before it touches its data (the memory store too), so that their
// semantics cannot drift (tests/engine/store_contract_test.cpp holds them to one contract).
//
// - Request validation: everything that can be checked without the database.
// - Sealer: encryption at rest of the personal columns and the keyed hashes of search tokens.
// - The queries of list_cases, count_cases, worklist and count_worklist, built from a
//   CaseQuery as SQL text with `?` placeholders that both dialects read.
//
// Thread safety: everything here is a pure function or an immutable value.
#pragma once

#include "store/sealing.hpp"

#include <onevisit/engine/store.hpp>

#include <algorithm>
#include <cstdint>
#include <exception>
#include <expected>
#include <iterator>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace onevisit::engine::store_common {

using Kind = StoreError::Kind;

inline StoreError make_error(Kind kind, std::string message) { return StoreError{kind, std::move(message)}; }
inline std::unexpected<StoreError> fail(Kind kind, std::string message) {
  return std::unexpected(make_error(kind, std::move(message)));
}

inline std::string in_quotes(std::string_view s) { return "\"" + std::string(s) + "\""; }

/// How errors name a request's command: by its id, when it has one.
inline std::string command_name(const CommitRequest& r) {
  return r.command_id.empty() ? std::string("a command") : "command " + in_quotes(r.command_id);
}

/// Bytes bound as a BLOB (sealed values), or as TEXT when `blob` is false: a column that
/// holds either (docs/storage.md, Encryption at rest).
struct SealedBytes {
  std::string_view data;
  bool blob = true;
};

// ---------------------------------------------------------------------------------------
// Encryption at rest (docs/storage.md). The personal columns — events.payload,
// snapshots.snapshot, outbox.payload — are sealed (sealing.hpp) when the store has keys, and
// written as clear text when it has none. Each value is bound to its column and case, so a
// sealed value moved to another case does not open.

// Where a sealed value belongs: its associated data.
inline std::string place_of(std::string_view column, std::string_view case_id) {
  std::string place(column);
  place += '/';
  place += case_id;
  return place;
}

class Sealer {
 public:
  explicit Sealer(std::shared_ptr<const AtRestKeys> keys, sealing::IndexKey index_key = {})
      : keys_(keys && !keys->empty() ? std::move(keys) : nullptr), index_key_(index_key) {}

  // A search token as the index holds it: its keyed hash (docs/storage.md, Search index).
  std::string blind(std::string_view token) const { return sealing::blind_hash(index_key_, token); }

  bool enabled() const { return keys_ != nullptr; }
  const AtRestKeys* keys() const { return keys_.get(); }

  // A value ready to bind: the sealed bytes (which it keeps alive) or the clear text.
  class Value {
   public:
    Value(std::string_view clear, std::optional<std::string> sealed) : clear_(clear), sealed_(std::move(sealed)) {}
    SealedBytes bound() const { return sealed_ ? SealedBytes{*sealed_, true} : SealedBytes{clear_, false}; }

   private:
    std::string_view clear_;
    std::optional<std::string> sealed_;
  };

  Value seal(std::string_view clear, std::string_view column, std::string_view case_id) const {
    if (!keys_) return Value(clear, std::nullopt);
    return Value(clear, sealing::seal(keys_->current(), clear, place_of(column, case_id)));
  }

  // The clear text of a stored value (sealed or not).
  std::expected<std::string, StoreError> open(std::string_view stored, std::string_view column,
                                              std::string_view case_id) const {
    if (!sealing::is_sealed(stored)) return std::string(stored);
    static const AtRestKeys kNone;
    auto clear = sealing::open(keys_ ? *keys_ : kNone, stored, place_of(column, case_id));
    if (clear) return std::move(*clear);
    const std::string what = "case " + in_quotes(case_id) + ": its " + std::string(column);
    if (clear.error().kind == sealing::OpenError::Kind::unknown_key) {
      return fail(Kind::locked, what + " is encrypted under key " + in_quotes(clear.error().key_id) +
                                    ", which this store was not given ([storage.keys] of the configuration)");
    }
    return fail(Kind::corrupt, what + " is sealed but does not open: damaged, or copied from another case or column");
  }

 private:
  std::shared_ptr<const AtRestKeys> keys_;
  sealing::IndexKey index_key_;
};

/// A query assembled from optional filters: its text, with `?` for each parameter, and its
/// parameters in order. (The PostgreSQL store numbers the `?` as $1, $2, ... before it runs it.)
struct DynamicQuery {
  std::string sql;
  std::vector<std::variant<std::int64_t, std::string>> params;

  void where(std::string_view condition, std::variant<std::int64_t, std::string> param) {
    sql += " AND ";
    sql += condition;
    params.push_back(std::move(param));
  }
};

/// Whether a commit, an outbox update or a deployment is valid (checked before queueing).
/// nullopt: valid; else an `invalid` error that names the request and what is wrong.
std::optional<StoreError> validate(const CommitRequest& r);
std::optional<StoreError> validate(const OutboxRecord& o);
std::optional<StoreError> validate(const DeployedWorkflow& w);

// How to test "the account acted on it" and "it has an item of the department": a few matching
// cases are best read from their own index and sorted (`IN`), many by walking the cases newest
// first and probing each (`EXISTS`), which stops at the page's end. Neither alone stays fast at
// 100,000 cases: a reviewer who acted on ten cases would probe all 100,000, a clerk who acted on
// all of them would sort 100,000. Each store decides by a capped count of the index entries.
struct CasePlan {
  bool few_by_actor = false;
  bool few_in_department = false;
};
inline constexpr std::size_t kFewCases = 2000;

/// The filters of CaseQuery on `cases c` (list_cases, count_cases), after `select`. The
/// query's search tokens must already be the keyed hashes the index holds (Sealer::blind).
DynamicQuery case_query(std::string select, const CaseQuery& q, const CasePlan& plan = {});
/// The two parts of a worklist, each read in its own index's order: items with a deadline
/// (earliest first), then those without one.
enum class Due { set, none };
/// One page of a worklist part, ordered by due date, case and item. Columns: case_id,
/// bundle_id, item_id, department, state, final, due_at, light, urged, part (the department
/// of a joint part, '' for the item's own row). Tables: case_items, case_item_parts, cases.
/// `with_parts`: q.department has pending parts (worklist_parts_probe); without any, the
/// items alone are read by the plain query (the union cost a third of the REST worklist's
/// rate in bench/server_bench.sh).
DynamicQuery worklist_rows_query(const CaseQuery& q, Due part, std::size_t limit, std::size_t offset, bool with_parts);
/// How many rows a worklist part has, counting at most `limit` (capped).
DynamicQuery worklist_count_query(const CaseQuery& q, Due part, std::size_t limit, bool with_parts);
/// Whether q.department has any pending part of a joint item: a count capped at 1.
/// REQUIRES: q.department.
DynamicQuery worklist_parts_probe(const CaseQuery& q);
/// Counting stops at `limit` rows: a tab's count need not walk 100,000 of them to say "1000+".
DynamicQuery capped(DynamicQuery query, std::size_t limit);

/// Runs `body`, a store operation, and turns an exception escaping it (out of memory) into an
/// io error: no exception crosses the Store interface.
template <typename T, typename F>
std::expected<T, StoreError> guarded(F&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    return fail(Kind::io, std::string("store failure: ") + e.what());
  } catch (...) {
    return fail(Kind::io, "store failure");
  }
}

// ---------------------------------------------------------------------------------------
// Why a commit is refused (the Store contract), the same on every SQL store: each reads what
// is asked of it its own way.

/// A command's idempotency record: the case it was for and its first result, marked duplicate.
struct CommandRecord {
  std::string case_id;
  CommitResult result;
};

/// What the version check reads of a case.
struct CaseHead {
  std::uint64_t version = 0;
  std::string bundle_id;
  std::int64_t bundle_version = 0;
};

/// A command id recorded before: its first result when it was for `r`'s case, an `invalid`
/// error when it was for another; nullopt when `record` is empty.
std::expected<std::optional<CommitResult>, StoreError> repeated(const CommitRequest& r,
                                                                const std::optional<CommandRecord>& record);
/// Why `r` cannot be applied to the case `head` (nullopt: there is no such case): a
/// version_conflict, not_found or invalid error; nullopt when nothing stands in its way.
std::optional<StoreError> conflict(const CommitRequest& r, const std::optional<CaseHead>& head);

/// Why `r` cannot be applied: its command was applied before (its first result, marked
/// duplicate), or an error (see conflict()). nullopt when nothing stands in its way. `find`
/// reads the command's record (only for a request with a command id), `head` the case's head;
/// each returns std::expected of what it read.
template <typename FindRecord, typename ReadHead>
std::expected<std::optional<CommitResult>, StoreError> refusal(const CommitRequest& r, FindRecord&& find,
                                                               ReadHead&& head) {
  // A command seen before returns its first result and writes nothing.
  if (!r.command_id.empty()) {
    std::expected<std::optional<CommandRecord>, StoreError> record = find();
    if (!record) return std::unexpected(record.error());
    if (*record) return repeated(r, *record);
  }
  std::expected<std::optional<CaseHead>, StoreError> read = head();
  if (!read) return std::unexpected(read.error());
  if (auto error = conflict(r, *read)) return std::unexpected(std::move(*error));
  return std::nullopt;
}

/// Whether a worklist query reads parts too: q.department has a pending part of a joint
/// item. `count(query)` runs the probe.
template <typename Count>
std::expected<bool, StoreError> has_parts(const CaseQuery& q, Count&& count) {
  if (!q.department) return false;
  std::expected<std::uint64_t, StoreError> found = count(worklist_parts_probe(q));
  if (!found) return std::unexpected(found.error());
  return *found > 0;
}

/// A worklist page (Store::worklist): items with a deadline first, earliest first, then those
/// without one. Two queries rather than one ORDER BY on an expression: each walks a partial
/// index in due order and stops at its LIMIT, instead of sorting every open item of the
/// department. `rows(query)` runs a worklist_rows_query, `count(query)` a worklist_count_query.
template <typename Rows, typename Count>
std::expected<std::vector<WorklistEntry>, StoreError> worklist_page(const CaseQuery& q, Rows&& rows, Count&& count) {
  auto with_parts = has_parts(q, count);
  if (!with_parts) return std::unexpected(with_parts.error());
  auto entries = rows(worklist_rows_query(q, Due::set, q.limit, q.offset, *with_parts));
  if (!entries || entries->size() == q.limit || q.due_before) return entries;
  // The page goes on into the items without a deadline; skip what the offset still covers.
  std::size_t skip = 0;
  if (entries->empty() && q.offset > 0) {
    std::expected<std::uint64_t, StoreError> with_deadline =
        count(worklist_count_query(q, Due::set, std::numeric_limits<std::int64_t>::max(), *with_parts));
    if (!with_deadline) return std::unexpected(with_deadline.error());
    skip = q.offset > *with_deadline ? q.offset - static_cast<std::size_t>(*with_deadline) : 0;
  }
  auto rest = rows(worklist_rows_query(q, Due::none, q.limit - entries->size(), skip, *with_parts));
  if (!rest) return std::unexpected(rest.error());
  entries->insert(entries->end(), std::make_move_iterator(rest->begin()), std::make_move_iterator(rest->end()));
  return entries;
}

/// The worklist's size up to q.limit (Store::count_worklist), from capped counts of its two
/// parts; `count(query)` runs one.
template <typename Count>
std::expected<std::uint64_t, StoreError> worklist_count(const CaseQuery& q, Count&& count) {
  auto with_parts = has_parts(q, count);
  if (!with_parts) return std::unexpected(with_parts.error());
  std::expected<std::uint64_t, StoreError> with_deadline = count(worklist_count_query(q, Due::set, q.limit, *with_parts));
  if (!with_deadline || q.due_before || *with_deadline >= q.limit) return with_deadline;
  std::expected<std::uint64_t, StoreError> without = count(worklist_count_query(q, Due::none, q.limit - *with_deadline, *with_parts));
  if (!without) return without;
  return *with_deadline + *without;
}

}  // namespace onevisit::engine::store_common
