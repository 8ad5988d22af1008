// Drives synthetic cases through a real Engine on a virtual clock: the `onevisit simulate`
// command, end-to-end tests and benchmarks use it.
//
// For each case the driver fills a valid form (values synthesised from the field types and
// rules: checksummed ID numbers and credit codes, enum members, dates within bounds), supplies
// and verifies every material an active item needs, and moves each item along the shortest
// path of its lifecycle to a successful final state, acting in the role the transition
// allows. With `correction_rate`, an item first goes through a correction round (a
// pauses_clock state) that the applicant answers a few working hours later. Between actions
// the clock moves on by whole working periods and due timers fire.
#pragma once

#include <onevisit/engine/engine.hpp>

#include <cstdint>
#include <string>

namespace onevisit::engine {

struct SimulationOptions {
  std::string bundle_id;
  std::size_t cases = 100;
  std::uint64_t seed = 1;
  double correction_rate = 0.1;          ///< share of items that get one correction round
  std::int64_t step_minutes = 90;        ///< virtual time between two actions on a case
};

struct SimulationReport {
  std::size_t cases_started = 0;
  std::size_t cases_completed = 0;
  std::size_t commands = 0;
  std::size_t rejected_commands = 0;   ///< should be 0: the driver only does what is allowed
  std::size_t items_finished = 0;
  std::size_t items_on_time = 0;
  std::size_t corrections = 0;
  std::size_t timers_fired = 0;
  double wall_seconds = 0;
  double commands_per_second = 0;
  double average_workdays = 0;         ///< per completed case, from start to completion
  double on_time_rate = 0;             ///< items finished before their deadline, percent
  std::string first_problem;           ///< the first unexpected rejection, if any
};

/// Runs the simulation. The engine must have the bundle deployed and use `clock`.
std::expected<SimulationReport, EngineError> simulate(Engine& engine, VirtualClock& clock, const SimulationOptions& options);

// Helpers for drivers (the simulation, end-to-end tests, demos).

/// The shortest path of transitions from `from` to a successful final state, ignoring guards
/// (a driver satisfies them by supplying materials), timed transitions and clock-pausing
/// detours. Empty when none exists.
std::vector<TransitionIndex> path_to_success(const LifecycleModel& lifecycle, StateIndex from);
/// A transition from `from` into a state that pauses the clock (a correction), if any.
std::optional<TransitionIndex> correction_from(const LifecycleModel& lifecycle, StateIndex from);
/// Values for the fields a transition requires (e.g. a reason).
std::map<std::string, std::string> fields_for(const TransitionModel& transition);
/// The first role the transition allows ("clerk" when any role may).
std::string role_for(const TransitionModel& transition);

/// A form that passes the bundle's validation, for tests and tools: every field's value within
/// its bounds, those that read today() or other fields included. An error (Chinese, naming the
/// field and the rule) when a rule cannot be satisfied, e.g. a minimum above the maximum.
std::expected<std::map<std::string, dsl::Value>, std::string> synthetic_form(const Workflow& workflow, Timestamp now, std::uint64_t seed);

}  // namespace onevisit::engine
