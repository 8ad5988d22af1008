// Checking and compiling workflow files: the one entry point.
//
// Every caller that turns workflow text into runnable workflows — `onevisit check`, `graph`,
// `simulate`, `stats`, `serve`, the engine's deploy and its reload of deployed versions, the
// tests — goes through check_and_compile, so they all see the same diagnostics and the same
// workflows. The pipeline (docs/language.md, The front end; docs/runtime.md, From text to
// workflows): parse and load the files (dsl::load), check and bind them in one pass
// (dsl::bind: the diagnostics and the resolved document), compile the document into Workflow
// models and analyse them (compile), build each workflow's calendar, and warn about calendars
// whose declared years are about to end.
//
// Thread safety: check_and_compile is reentrant (no global state); a CompiledSet is immutable.
#pragma once

#include <onevisit/dsl/diagnostic.hpp>
#include <onevisit/dsl/program.hpp>
#include <onevisit/engine/calendar.hpp>
#include <onevisit/engine/calendars.hpp>
#include <onevisit/engine/workflow.hpp>

#include <cstdint>
#include <expected>
#include <memory>
#include <optional>
#include <vector>

namespace onevisit::engine {

struct CheckOptions {
  /// The day (days since 1970-01-01) against which calendars are checked for how far their
  /// declared years reach (a `calendar-ending` warning within calendar_warning_days). None:
  /// no such warning.
  std::optional<std::int64_t> today_days;
  std::int64_t calendar_warning_days = kCalendarWarningDays;
};

/// What a set of workflow files compiles to.
struct CompiledSet {
  std::shared_ptr<const dsl::Program> program;  ///< the files, as loaded (a deployed version stores them)
  /// One per bundle of the files, in program order; none is left out.
  std::vector<std::shared_ptr<const Workflow>> workflows;
  std::vector<std::shared_ptr<const WorkCalendar>> calendars;  ///< calendars[i] is workflows[i]'s
  std::vector<dsl::LocatedDiagnostic> diagnostics;             ///< warnings (there is no error), sorted
  /// True when `workflow` is declared in one of the files the user named (not only imported).
  bool named(const Workflow& workflow) const;
};

/// Checks and compiles a loaded program. On success, the workflows with their calendars and
/// the warnings; when any diagnostic is an error (loading, checking, compiling, analysing, a
/// calendar that cannot be built), every diagnostic, located and sorted as `onevisit check`
/// prints them (follow-on errors last).
std::expected<CompiledSet, std::vector<dsl::LocatedDiagnostic>> check_and_compile(dsl::Program program,
                                                                                  const CheckOptions& options = {});

}  // namespace onevisit::engine
