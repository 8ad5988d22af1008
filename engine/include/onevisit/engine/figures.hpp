// A bundle's figures the way a district reports them: items, departments, materials, visits
// and working days if each item were applied for separately versus in the bundle.
//
// How each figure is counted is specified in docs/figures.md. All functions are pure.
#pragma once

#include <onevisit/engine/workflow.hpp>

#include <expected>
#include <map>
#include <string>

namespace onevisit::engine {

struct BundleFigures {
  std::string bundle;
  int version = 1;
  int items = 0;
  int departments = 0;
  int materials_separate = 0;
  int materials_bundled = 0;
  int visits_separate = 0;
  int visits_bundled = 0;
  dsl::Decimal workdays_separate;
  dsl::Decimal workdays_bundled;
  double reduction_materials = 0;  ///< percent, one decimal
  double reduction_visits = 0;
  double reduction_workdays = 0;
  /// Special procedures (特别程序) the applicable items declare, counted apart from the limits.
  int special_procedures = 0;
  /// The most working days clock-stopping special procedures (`pauses_clock`) may add to one
  /// item: over the applicable items, the largest sum of their maxima (each runs once, one at a
  /// time). Not in workdays_bundled, which counts promised limits only.
  dsl::Decimal special_workdays_outside;
  std::vector<ItemIndex> applicable_items;
  std::vector<ItemIndex> critical_path;
};

/// Parses `value` as the type of field `name` ("true"/"false" for bools, an enum member's
/// name, YYYY-MM-DD for dates ...). Returns an error message when it does not fit.
std::expected<dsl::Value, std::string> parse_field_value(const Workflow& workflow, std::string_view name,
                                                        std::string_view value);

/// The situation: given answers by field name; every other field takes its default (or stays
/// unanswered). Returns one value per slot of workflow.scope().
std::vector<dsl::Value> situation_slots(const Workflow& workflow, const std::map<std::string, dsl::Value>& given,
                                        std::int64_t today_days = 0);

/// What a page shows of a material, and what its file chooser accepts.
struct MaterialInfo {
  MaterialIndex index = 0;
  std::string id;
  std::string title;
  MaterialSource source = MaterialSource::upload;
  bool secondary = false;            ///< may be pending at tolerant intake (容缺)
  bool original = false;             ///< the original is shown at the window
  std::vector<std::string> formats;  ///< declared upload formats (empty: any file)
  std::string accept;                ///< the HTML `accept` attribute for them (formats.hpp), empty: any
};

MaterialInfo material_info(const Workflow& workflow, MaterialIndex material);

/// The materials the applicant brings in a situation (slots as situation_slots gives them):
/// those an applicable item needs whose own `when` holds, minus those an item of the bundle
/// produces; in declaration order. What the intake page and the case page list.
std::vector<MaterialInfo> situation_materials(const Workflow& workflow, const std::vector<dsl::Value>& slots,
                                              std::int64_t today_days = 0);

/// Computes the figures for a situation (see situation_slots) on `today_days` (days since
/// 1970-01-01, what `today()` and `age()` read: `onevisit stats` passes the real date or --today).
BundleFigures compute_figures(const Workflow& workflow, const std::map<std::string, dsl::Value>& given, std::int64_t today_days);

std::string figures_json(const BundleFigures& figures);
std::string figures_text(const BundleFigures& figures, const Workflow& workflow);

}  // namespace onevisit::engine
