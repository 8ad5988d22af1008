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

/// Why a `pauses_clock` state stops the item's clock (`pauses_clock as <kind>`; docs/language.md,
/// `state` and its flags). Persisted in nothing, but the formatter and reports switch over it:
/// never reorder.
/// - correction (补正, the default): the one correction notice is used up; it counts as a
///   correction (`item.corrections`) and, in the report, as a visit;
/// - waiting (等待申请人): waiting for the applicant (a hearing request, a fee, a signature);
///   neither a correction nor a visit;
/// - special (特别程序): a special procedure run as a state of the lifecycle; neither a
///   correction nor a visit, its time reported with the special procedures'.
enum class ClockStop : std::uint8_t { correction, waiting, special };

/// How the departments of a joint item (联办/会签: `joint all|any with …`) decide it together:
/// all must approve (a refusal by one refuses the item), or any one approval approves it (it
/// is refused when every department refused). Never reorder.
enum class JointRule : std::uint8_t { all, any };

}  // namespace onevisit::dsl
