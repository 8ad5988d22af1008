// JSON encoding of events, case snapshots and values for the store (docs/storage.md).
// Private to the engine. Every decoder validates what it reads and returns an error for
// anything malformed rather than trusting the database.
#pragma once

#include <onevisit/engine/runtime.hpp>

#include <expected>
#include <optional>
#include <vector>
#include <string>

namespace onevisit::engine::codec {

std::string encode_value(const dsl::Value& value);
std::expected<dsl::Value, std::string> decode_value(std::string_view json);

std::string encode_event_payload(const Event& event);
std::expected<Event, std::string> decode_event(std::string_view type, std::string_view payload, Timestamp at);

std::string encode_case(const Case& state);
std::expected<Case, std::string> decode_case(std::string_view json, const Workflow& workflow);

/// Erasure (docs/runtime.md, Retention): `json` with every occurrence of `values` inside its
/// strings replaced by kErasedValue, longest value first; values under two bytes are not
/// looked for (they would hit the one-letter tags of encoded values). nullopt when nothing
/// changed; an error when `json` is not JSON.
std::expected<std::optional<std::string>, std::string> redact(std::string_view json, std::vector<std::string> values);

}  // namespace onevisit::engine::codec
