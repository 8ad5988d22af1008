// The rows a benchmark commits as one typical transition of the runtime, shared by the
// SQLite and PostgreSQL store benchmarks so that both measure the same work.
#pragma once

#include <onevisit/engine/store.hpp>

#include <cstdint>
#include <string>

namespace onevisit::bench {

using engine::CaseSummary;
using engine::CommitRequest;
using engine::ItemRow;
using engine::StoredEvent;
using engine::Timestamp;
using engine::TimerRecord;

// The event row every commit appends, identical in both benchmarks.
inline const std::string& event_payload() {
  static const std::string payload =
      "{\"item\":\"company_registration\",\"from\":\"submitted\",\"to\":\"accepted\",\"by\":\"clerk:0042\","
      "\"reason\":\"" +
      std::string(180, 'r') + "\"}";
  return payload;
}
inline const std::string& snapshot_text() {
  static const std::string snapshot =
      "{\"case\":\"...\",\"form\":{\"company_name\":\"" + std::string(1200, 's') + "\"}}";
  return snapshot;
}

constexpr Timestamp kNow = 1'700'000'000'000;

inline std::string case_name(int thread, int c) { return "case-t" + std::to_string(thread) + "-c" + std::to_string(c); }

/// A typical transition as the runtime commits it: one event; one of the three items changes
/// state and deadline, and that item's timer moves with it (the runtime sends only the item
/// rows and timers that changed; a new case sends all three); the snapshot every
/// kSnapshotEvery events (the runtime's rule, engine.cpp).
constexpr std::uint64_t kSnapshotEvery = 16;
inline CommitRequest transition(const std::string& case_id, std::uint64_t version) {
  CommitRequest r;
  r.command_id = case_id + "-v" + std::to_string(version);
  r.case_id = case_id;
  r.expected_version = version;
  r.events = {StoredEvent{version + 1, "ItemTransitioned", event_payload(), kNow}};
  if ((version + 1) % kSnapshotEvery == 0) r.snapshot = snapshot_text();
  r.summary = CaseSummary{case_id, "enterprise_startup", 2, "running", "张*", kNow, kNow, version + 1};
  const char* items[] = {"registration", "seal", "invoice"};
  const char* departments[] = {"market", "police", "tax"};
  const auto moving = (version + 1) % 3;
  for (std::size_t i = 0; i < 3; ++i) {
    const bool changed = i == moving;
    if (!changed && version > 0) continue;
    const Timestamp due = kNow + static_cast<Timestamp>(changed ? version + 1 : 0) * 60'000 + 86'400'000;
    r.items.push_back(ItemRow{items[i], departments[i], changed ? "s" + std::to_string(version % 5) : "submitted",
                              false, due, ""});
    r.set_timers.push_back(TimerRecord{"", std::string("item:") + items[i] + ":overdue", due, "{\"fire\":\"overdue\"}"});
  }
  r.result = "{\"ok\":true}";
  return r;
}

}  // namespace onevisit::bench
