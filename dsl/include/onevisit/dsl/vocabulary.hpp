// The small enumerations the syntax tree and the compiled model share.
//
// A unit of time, a field's declared type, a decision table's hit policy and a retention's
// calendar unit are written in workflow text (the syntax tree names them as ast::TimeUnit …)
// and read at run time (a Limit, a FieldModel, a CompiledDecision). They live here, apart from
// the syntax tree, so that the runtime model needs no part of the AST.
//
// Thread safety: plain enumerations.
#pragma once

#include <cstdint>

namespace onevisit::dsl {

/// The unit of a duration: working days (工作日), calendar days (日) or hours.
enum class TimeUnit : std::uint8_t { workday, day, hour };

/// The type a form field declares (`text`, `int`, `idcard`, `enum(...)`, `list(...)` …).
enum class TypeKind : std::uint8_t {
  text, integer, decimal, money, boolean, date, idcard, uscc, phone, enumeration, list,
};

/// How a decision table combines matching rows (docs/language.md, Decision tables).
enum class HitPolicy : std::uint8_t { first, unique, collect };

/// Calendar units of a retention period (a retention is counted in calendar time, not in
/// working days).
enum class RetentionUnit : std::uint8_t { day, month, year };

}  // namespace onevisit::dsl
