// JSON views of cases shared by `onevisit case --format json` and the server's REST API, so a
// case reads the same on the command line and over HTTP. ID and phone numbers are masked.
//
// Thread safety: pure functions of their arguments.
#pragma once

#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/figures.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <set>
#include <string>
#include <vector>

namespace onevisit::views {

/// A case: status, channel (window, online, mobile or kiosk), applicant (masked), form (typed ID and phone fields masked whole, and every
/// personal number the detector finds in the other values), materials (notes masked likewise)
/// and items with their states, deadlines and lights.
boost::json::object case_json(const engine::CaseView& view);

/// A line of a case list: id, bundle, status, channel, applicant (masked), start and update times.
boost::json::object case_summary_json(const engine::CaseSummary& summary);

/// How the applicant chose to receive the results (ChooseDelivery): null until chosen, else
/// `method` (window | mail), `method_title` (窗口领取 | 邮寄送达) and, by post, the recipient,
/// the mobile number masked (139******00) and the address (personal numbers in it masked).
boost::json::value delivery_choice_json(const engine::Case::DeliveryChoice& choice);

/// What a department sees of a case of one workflow: its items, the materials they need or
/// produce, and the form fields they send to it (each department gets its mapped subset of
/// the one form).
struct DepartmentScope {
  std::vector<bool> items;
  std::vector<bool> materials;
  std::set<std::string> fields;

  static DepartmentScope of(const engine::Workflow& workflow, const std::string& department);
};

/// The case as the console shows it: case_json, and each material's source and file, each
/// item's state title, deadline (ms), the items it comes after and the events it offers now
/// (with their titles, the roles that may fire them and `final_failed`: the event ends the
/// item in a failed final state, so it cannot be undone), and the latest deadline. Each
/// material also says `original`, `formats` and `accept` (add_upload_facts). With a scope, only that
/// department's items, materials and form fields.
boost::json::object case_page_json(const engine::CaseView& view, const DepartmentScope* scope);

/// Adds what a page needs to take a material at the window: `original` (the original is
/// shown), `formats` (the declared upload formats, empty: any file) and `accept` (the file
/// chooser's attribute for them, empty: any).
void add_upload_facts(boost::json::object& o, const engine::MaterialInfo& info);

/// "upload", "elicense" or "produced".
std::string_view material_source_name(engine::MaterialSource source);

}  // namespace onevisit::views
