// /api/audit: the audit trail, and pruning records past their retention.
#include "routes/handlers.hpp"

#include <onevisit/dsl/expr.hpp>
#include <onevisit/views/format.hpp>

#include <cstdio>

namespace onevisit::server::routes {

// Records written before the trail masked what people typed are masked when shown.
json::object audit_json(const AuditRecord& r) {
  return json::object{{"sequence", r.sequence}, {"at", views::format_time(r.at)}, {"actor", masked(r.actor)}, {"role", r.role},
                      {"remote_address", r.remote_address}, {"action", masked(r.action)}, {"target", masked(r.target)},
                      {"outcome", r.outcome}, {"detail", masked(r.detail)}, {"count", r.count},
                      {"last_at", views::format_time(r.last_at == 0 ? r.at : r.last_at)},
                      {"last_action", masked(r.last_action.empty() ? r.action : r.last_action)}};
}

HttpResponse audit(Exchange& x) {
  std::int64_t limit = 100, offset = 0;
  if (auto bad = x.query_number("limit", limit, 1, 1000)) return *bad;
  if (auto bad = x.query_number("offset", offset, 0, kMaxOffset)) return *bad;
  auto records = x.accounts.audit(static_cast<std::size_t>(limit), static_cast<std::size_t>(offset), x.query("target"));
  if (!records) return x.account_error(records.error());
  json::array a;
  for (const auto& r : *records) a.push_back(audit_json(r));
  return json_response(200, json::object{{"records", std::move(a)}});
}

// Records past their retention go; the pruning itself is a record, which this call cannot
// remove (it is younger than any cutoff allowed).
HttpResponse prune_audit(Exchange& x) {
  auto object = x.body();
  if (!object) return *x.failure;
  BodyReader reader(*object);
  const auto before_text = reader.text("before", true);
  if (!reader.ok()) return x.bad_fields(reader);
  x.record.target = "audit";
  const auto date = dsl::parse_civil_date(*before_text);
  if (!date) return x.error(400, "invalid_request", "before 应为日期，格式 YYYY-MM-DD", json::object{{"parameter", "before"}});
  const engine::Timestamp before = dsl::days_from_civil(*date) * 24 * 60 * 60'000;
  const engine::Timestamp now = x.engine.now();
  // Whole days: the latest `before` allowed is the day on which the retention ends.
  const auto latest_day = (now - x.options.audit_retention) / (24 * 60 * 60'000);
  if (dsl::days_from_civil(*date) > latest_day) {
    const auto latest = dsl::civil_from_days(latest_day);
    char text[16];
    std::snprintf(text, sizeof text, "%04d-%02d-%02d", latest.year, latest.month, latest.day);
    return x.error(422, "invalid",
                   "审计记录须保留 " + std::to_string(x.options.audit_retention / (24 * 60 * 60'000)) + " 天：before 最晚为 " + text,
                   json::object{{"latest_before", text}});
  }
  std::int64_t removed = 0;
  const User& user = x.user();
  auto pruned = x.accounts.prune_audit(before, [&](const PrunedAudit& what) {
    removed = what.count;
    AuditRecord record;
    record.at = now;
    record.actor = user.name;
    record.role = std::string(to_string(user.role));
    record.remote_address = x.request.remote_address;
    record.action = "POST /api/audit/prune";
    record.target = "audit";
    record.outcome = "ok";
    record.detail = "pruned " + std::to_string(what.count) + " records before " + *before_text +
                    (what.count > 0 ? " (recorded " + views::format_time(what.first_at) + " to " + views::format_time(what.last_at) + ")" : "");
    return record;
  });
  if (!pruned) return x.account_error(pruned.error());
  x.record.audited = true;
  return json_response(200, json::object{{"pruned", removed}, {"record", audit_json(*pruned)}});
}

}  // namespace onevisit::server::routes
