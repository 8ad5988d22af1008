// What the stores share (store_common.hpp): request validation and the case and worklist queries.
#include "store/store_common.hpp"

#include <set>

namespace onevisit::engine::store_common {
namespace {

bool valid_outbox_status(std::string_view s) { return s == "pending" || s == "delivered" || s == "parked"; }

}  // namespace

// ---------------------------------------------------------------------------------------
// Request validation: everything that can be checked without the database, before queueing.

std::optional<StoreError> validate(const CommitRequest& r) {
  const auto invalid = [](std::string message) { return make_error(Kind::invalid, std::move(message)); };
  if (r.case_id.empty()) return invalid(command_name(r) + " names no case");
  const std::string who = command_name(r) + " on case " + in_quotes(r.case_id);
  if (!r.summary.case_id.empty() && r.summary.case_id != r.case_id) {
    return invalid(who + ": its summary is for case " + in_quotes(r.summary.case_id));
  }
  if (r.summary.bundle_id.empty()) return invalid(who + ": the summary names no bundle");
  if (r.expected_version == 0 && r.events.empty()) {
    return invalid(who + ": a new case needs at least one event");
  }
  constexpr auto kMaxVersion = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());
  if (r.expected_version > kMaxVersion - r.events.size())
    return invalid(who + ": the case version overflows");
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    const auto want = r.expected_version + 1 + i;
    if (r.events[i].sequence != want) {
      return invalid(who + ": expected event " + std::to_string(i + 1) + " to have sequence " +
                     std::to_string(want) + " (expected_version + " + std::to_string(i + 1) +
                     "), but it has " + std::to_string(r.events[i].sequence));
    }
    if (r.events[i].type.empty()) return invalid(who + ": event " + std::to_string(want) + " has no type");
  }
  const auto version_after = r.expected_version + r.events.size();
  if (r.summary.version != version_after) {
    return invalid(who + ": expected the summary at version " + std::to_string(version_after) +
                   " (expected_version + events), but it says " + std::to_string(r.summary.version));
  }
  std::set<std::string_view> seen;
  for (const auto& item : r.items) {
    if (item.item_id.empty()) return invalid(who + ": an item row has no item id");
    if (!seen.insert(item.item_id).second)
      return invalid(who + ": item " + in_quotes(item.item_id) + " appears twice");
    if (item.light != "" && item.light != "yellow" && item.light != "red") {
      return invalid(who + ": item " + in_quotes(item.item_id) + " has light " + in_quotes(item.light) +
                     "; expected \"\", \"yellow\" or \"red\"");
    }
  }
  seen.clear();
  for (const auto& timer : r.set_timers) {
    if (timer.timer_id.empty()) return invalid(who + ": a timer has no timer id");
    if (!timer.case_id.empty() && timer.case_id != r.case_id) {
      return invalid(who + ": timer " + in_quotes(timer.timer_id) + " belongs to case " +
                     in_quotes(timer.case_id));
    }
    if (!seen.insert(timer.timer_id).second)
      return invalid(who + ": timer " + in_quotes(timer.timer_id) + " is set twice");
  }
  for (const auto& id : r.cancel_timers) {
    if (id.empty()) return invalid(who + ": a cancelled timer has no timer id");
    if (seen.contains(id)) return invalid(who + ": timer " + in_quotes(id) + " is both set and cancelled");
  }
  for (const auto& o : r.outbox) {
    if (o.idempotency_key.empty()) return invalid(who + ": an outbox entry has no idempotency key");
    if (!o.case_id.empty() && o.case_id != r.case_id) {
      return invalid(who + ": outbox entry " + in_quotes(o.idempotency_key) + " belongs to case " +
                     in_quotes(o.case_id));
    }
    if (!valid_outbox_status(o.status)) {
      return invalid(who + ": outbox entry " + in_quotes(o.idempotency_key) + " has status " +
                     in_quotes(o.status) + "; expected pending, delivered or parked");
    }
    if (o.attempts < 0)
      return invalid(who + ": outbox entry " + in_quotes(o.idempotency_key) + " has negative attempts");
  }
  return std::nullopt;
}

std::optional<StoreError> validate(const OutboxRecord& o) {
  if (o.id == 0) return make_error(Kind::invalid, "an outbox update needs the entry's id");
  if (!valid_outbox_status(o.status)) {
    return make_error(Kind::invalid, "outbox entry " + std::to_string(o.id) + ": status " +
                                         in_quotes(o.status) + " is not one of pending, delivered, parked");
  }
  if (o.attempts < 0)
    return make_error(Kind::invalid, "outbox entry " + std::to_string(o.id) + ": negative attempts");
  return std::nullopt;
}

std::optional<StoreError> validate(const DeployedWorkflow& w) {
  if (w.bundle_id.empty()) return make_error(Kind::invalid, "a deployed workflow needs a bundle id");
  if (w.version <= 0) {
    return make_error(Kind::invalid, "bundle " + in_quotes(w.bundle_id) + ": version " +
                                         std::to_string(w.version) + " is not positive");
  }
  if (w.source_hash.empty())
    return make_error(Kind::invalid, "bundle " + in_quotes(w.bundle_id) + ": no source hash");
  return std::nullopt;
}

// The filters of CaseQuery on `cases c` (list_cases, count_cases), after `select`.
DynamicQuery case_query(std::string select, const CaseQuery& q, const CasePlan& plan) {
  DynamicQuery query;
  query.sql = std::move(select) + " FROM cases c WHERE 1 = 1";
  if (q.bundle_id) query.where("c.bundle_id = ?", *q.bundle_id);
  if (q.status) query.where("c.status = ?", *q.status);
  if (q.channel) query.where("c.channel = ?", *q.channel);
  if (q.started_from) query.where("c.started_at >= ?", std::int64_t{*q.started_from});
  if (q.started_before) query.where("c.started_at < ?", std::int64_t{*q.started_before});
  if (q.actor) {
    query.where(plan.few_by_actor ? "c.case_id IN (SELECT a.case_id FROM case_actors a WHERE a.actor = ?)"
                                  : "EXISTS (SELECT 1 FROM case_actors a WHERE a.actor = ? AND a.case_id = c.case_id)",
                *q.actor);
  }
  if (q.scope_department) {
    query.where(plan.few_in_department ? "c.case_id IN (SELECT d.case_id FROM case_items d WHERE d.department = ?)"
                                       : "EXISTS (SELECT 1 FROM case_items d WHERE d.department = ? AND d.case_id = c.case_id)",
                *q.scope_department);
  }
  if (q.any_token || q.case_id) {
    // A search: the tokens' hashes were bound by the caller's Sealer (search_condition).
    std::string condition = "(";
    bool first = true;
    if (q.case_id) {
      condition += "c.case_id = ?";
      query.params.emplace_back(*q.case_id);
      first = false;
    }
    if (q.any_token && !q.any_token->empty()) {
      condition += first ? "" : " OR ";
      condition += "c.case_id IN (SELECT t.case_id FROM search_tokens t WHERE t.token IN (";
      for (std::size_t i = 0; i < q.any_token->size(); ++i) {
        condition += i == 0 ? "?" : ", ?";
        query.params.emplace_back((*q.any_token)[i]);
      }
      condition += "))";
      first = false;
    }
    if (first) condition += "0 = 1";
    query.sql += " AND " + condition + ")";
  }
  if (q.department || q.item_state || q.due_before) {
    // All item filters hold for one and the same item. An item with a department or a
    // due date filter must still be open (non-final); a state filter alone may name a
    // final state (e.g. cases with a rejected item).
    std::string exists = "EXISTS (SELECT 1 FROM case_items i WHERE i.case_id = c.case_id";
    if (q.department || q.due_before) exists += " AND i.final = 0";
    if (q.department) {
      exists += " AND i.department = ?";
      query.params.emplace_back(*q.department);
    }
    if (q.item_state) {
      exists += " AND i.state = ?";
      query.params.emplace_back(*q.item_state);
    }
    if (q.due_before) {
      exists += " AND i.due_at <> 0 AND i.due_at <= ?";
      query.params.emplace_back(std::int64_t{*q.due_before});
    }
    query.sql += " AND " + exists + ")";
  }
  return query;
}

namespace {

// The filters of CaseQuery on one branch of the worklist, after its FROM: `due` is the due
// column of the branch's own table (its index orders by it).
void worklist_filters(DynamicQuery& query, const CaseQuery& q, const char* due, Due part) {
  query.sql += std::string(" AND ") + due + (part == Due::set ? " > 0" : " = 0");
  if (q.bundle_id) query.where("c.bundle_id = ?", *q.bundle_id);
  if (q.status) query.where("c.status = ?", *q.status);
  if (q.item_state) query.where("i.state = ?", *q.item_state);
  if (q.due_before) query.where(std::string(due) + " <= ?", std::int64_t{*q.due_before});
}

// The open items of q's filters (with q.department, that department's items).
DynamicQuery item_branch(const char* columns, const CaseQuery& q, Due part) {
  DynamicQuery query;
  query.sql = std::string("SELECT ") + columns + " FROM case_items i JOIN cases c ON c.case_id = i.case_id WHERE i.final = 0";
  if (q.department) query.where("i.department = ?", *q.department);
  worklist_filters(query, q, "i.due_at", part);
  return query;
}

// q.department's pending parts of joint items (case_item_parts holds only those: the rows
// leave when the part is decided or the item closes), with their items' rows.
DynamicQuery part_branch(const char* columns, const CaseQuery& q, Due part) {
  DynamicQuery query;
  query.sql = std::string("SELECT ") + columns +
              " FROM case_item_parts p JOIN case_items i ON i.case_id = p.case_id AND i.item_id = p.item_id "
              "JOIN cases c ON c.case_id = p.case_id WHERE p.department = ?";
  query.params.emplace_back(*q.department);
  worklist_filters(query, q, "p.due_at", part);
  return query;
}

void append(DynamicQuery& to, DynamicQuery from) {
  to.sql += from.sql;
  to.params.insert(to.params.end(), std::make_move_iterator(from.params.begin()), std::make_move_iterator(from.params.end()));
}

}  // namespace

// A page in due order. A department's worklist is its items UNION ALL its parts, each branch
// cut at offset + limit in its own index's order before the merge: an OR of the two would
// lose the department index and sort every open item.
DynamicQuery worklist_rows_query(const CaseQuery& q, Due part, std::size_t limit, std::size_t offset, bool with_parts) {
  constexpr const char* kItemColumns =
      "i.case_id, c.bundle_id, i.item_id, i.department, i.state, i.final, i.due_at, i.light, i.urged, '' AS part";
  constexpr const char* kPartColumns =
      "p.case_id, c.bundle_id, p.item_id, i.department, i.state, i.final, p.due_at, i.light, i.urged, p.department AS part";
  const auto bound = [](std::size_t n) {
    return static_cast<std::int64_t>(std::min<std::size_t>(n, std::numeric_limits<std::int64_t>::max()));
  };
  DynamicQuery query;
  if (!q.department || !with_parts) {
    query = item_branch(kItemColumns, q, part);
    query.sql += " ORDER BY i.due_at, i.case_id, i.item_id";
  } else {
    // Either branch may fill the page alone: each reads up to offset + limit rows.
    constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
    const std::int64_t page_end = bound(limit > kMax - offset ? kMax : limit + offset);
    query.sql = "SELECT * FROM (";
    append(query, item_branch(kItemColumns, q, part));
    query.sql += " ORDER BY i.due_at, i.case_id, i.item_id LIMIT ?) AS own UNION ALL SELECT * FROM (";
    query.params.emplace_back(page_end);
    append(query, part_branch(kPartColumns, q, part));
    query.sql += " ORDER BY p.due_at, p.case_id, p.item_id LIMIT ?) AS parts ORDER BY 7, 1, 3";
    query.params.emplace_back(page_end);
  }
  query.sql += " LIMIT ? OFFSET ?";
  query.params.emplace_back(bound(limit));
  query.params.emplace_back(bound(offset));
  return query;
}

DynamicQuery worklist_count_query(const CaseQuery& q, Due part, std::size_t limit, bool with_parts) {
  DynamicQuery query = item_branch("1", q, part);
  if (q.department && with_parts) {
    query.sql += " UNION ALL ";
    append(query, part_branch("1", q, part));
  }
  return capped(std::move(query), limit);
}

DynamicQuery worklist_parts_probe(const CaseQuery& q) {
  DynamicQuery query;
  query.sql = "SELECT 1 FROM case_item_parts WHERE department = ?";
  query.params.emplace_back(*q.department);
  return capped(std::move(query), 1);
}

// Counting stops at `limit` rows: a tab's count need not walk 100,000 of them to say "1000+".
DynamicQuery capped(DynamicQuery query, std::size_t limit) {
  query.sql = "SELECT COUNT(*) FROM (" + query.sql + " LIMIT ?) AS counted";  // PostgreSQL wants the alias
  query.params.emplace_back(static_cast<std::int64_t>(std::min<std::size_t>(limit, std::numeric_limits<std::int64_t>::max())));
  return query;
}

std::expected<std::optional<CommitResult>, StoreError> repeated(const CommitRequest& r,
                                                                const std::optional<CommandRecord>& record) {
  if (!record) return std::nullopt;
  if (record->case_id != r.case_id) {
    return fail(Kind::invalid, "command id " + in_quotes(r.command_id) + " was already used for case " +
                                   in_quotes(record->case_id) + ", not " + in_quotes(r.case_id));
  }
  return std::optional<CommitResult>{record->result};
}

std::optional<StoreError> conflict(const CommitRequest& r, const std::optional<CaseHead>& head) {
  const auto who = [&r] { return command_name(r) + " on case " + in_quotes(r.case_id); };
  if (r.expected_version == 0) {
    if (head) {
      return make_error(Kind::version_conflict,
                        who() + ": expected a new case, but it exists at version " + std::to_string(head->version));
    }
    return std::nullopt;
  }
  if (!head) {
    return make_error(Kind::not_found, who() + ": expected the case at version " +
                                           std::to_string(r.expected_version) + ", but there is no such case");
  }
  if (head->version != r.expected_version) {
    return make_error(Kind::version_conflict, who() + ": expected the case at version " +
                                                  std::to_string(r.expected_version) + ", but it is at version " +
                                                  std::to_string(head->version));
  }
  if (head->bundle_id != r.summary.bundle_id || head->bundle_version != r.summary.bundle_version) {
    return make_error(Kind::invalid, who() + ": the case runs on " + head->bundle_id + " version " +
                                         std::to_string(head->bundle_version) + " and cannot move to " +
                                         r.summary.bundle_id + " version " + std::to_string(r.summary.bundle_version));
  }
  return std::nullopt;
}

}  // namespace onevisit::engine::store_common
