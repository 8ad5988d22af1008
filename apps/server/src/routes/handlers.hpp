// Private to the server: the route handlers, one file per resource (the route table in
// routes.cpp says which answers what). A handler runs after the Authorizer allowed the route's
// action at all; it asks again with the target (a case, a department) once it knows it.
//
// Thread safety: handlers share nothing but the service's parts in the Exchange.
#pragma once

#include "exchange.hpp"

namespace onevisit::server::routes {

// sessions.cpp
HttpResponse log_in(Exchange& x);
HttpResponse who_am_i(Exchange& x);
HttpResponse log_out(Exchange& x);
// cases.cpp
HttpResponse list_cases(Exchange& x);
HttpResponse start_case(Exchange& x);
HttpResponse show_case(Exchange& x);
HttpResponse case_history(Exchange& x);
/// What a case list reads beyond read_listing: the caller's case scope (a reviewer: cases with
/// an item of their department), `department`, `done_by=me` and the search `q`.
std::optional<HttpResponse> read_case_scope(Exchange& x, engine::CaseQuery& query);
// materials.cpp
HttpResponse upload_material(Exchange& x);
HttpResponse download_material(Exchange& x);
/// Whether the material's file is the applicant's to download: what was uploaded for the case
/// and what its items issued (results); not a copy the e-license library gave about whoever
/// the form names, which the case does not say whom it is about (docs/applicant.md).
bool applicant_may_download(const engine::Workflow& workflow, const engine::Case& state, engine::MaterialIndex material);
HttpResponse fetch_elicense(Exchange& x);
HttpResponse verify_material(Exchange& x);
// items.cpp
HttpResponse fire_event(Exchange& x);
HttpResponse tolerant_intake(Exchange& x);
// case_calls.cpp
HttpResponse case_calls(Exchange& x);
HttpResponse retry_call(Exchange& x);
HttpResponse resolve_call(Exchange& x);
// case_commands.cpp
HttpResponse decide_part(Exchange& x);
HttpResponse start_special_procedure(Exchange& x);
HttpResponse end_special_procedure(Exchange& x);
HttpResponse pause_clock(Exchange& x);
HttpResponse resume_clock(Exchange& x);
HttpResponse withdraw(Exchange& x);
HttpResponse deliver(Exchange& x);
HttpResponse choose_delivery(Exchange& x);
HttpResponse answer_rectification(Exchange& x);
HttpResponse rate(Exchange& x);
// calls.cpp
HttpResponse list_calls(Exchange& x);
// receipts.cpp
HttpResponse post_receipt(Exchange& x);
// worklist.cpp
HttpResponse worklist(Exchange& x);
HttpResponse worklist_counts(Exchange& x);
// follow.cpp
HttpResponse follow_code(Exchange& x);
// urge.cpp
HttpResponse urge_item(Exchange& x);
// workflows.cpp
HttpResponse list_workflows(Exchange& x);
HttpResponse deploy_workflows(Exchange& x);
HttpResponse show_workflow(Exchange& x);
HttpResponse situation_materials(Exchange& x);
HttpResponse company_registration(Exchange& x);
// timers.cpp
HttpResponse list_timers(Exchange& x);
HttpResponse fire_timers(Exchange& x);
// users.cpp
HttpResponse list_users(Exchange& x);
HttpResponse create_user(Exchange& x);
HttpResponse update_user(Exchange& x);
// tokens.cpp
HttpResponse list_tokens(Exchange& x);
HttpResponse create_token(Exchange& x);
HttpResponse revoke_token(Exchange& x);
// reports.cpp
HttpResponse report(Exchange& x);
// audit.cpp
HttpResponse audit(Exchange& x);
HttpResponse prune_audit(Exchange& x);

// applicant_sessions.cpp (the applicant channel's logins)
HttpResponse send_login_code(Exchange& x);
HttpResponse applicant_log_in(Exchange& x);
HttpResponse applicant_who_am_i(Exchange& x);
HttpResponse applicant_log_out(Exchange& x);
HttpResponse oidc_start(Exchange& x);
HttpResponse oidc_callback(Exchange& x);
HttpResponse act_for_company(Exchange& x);
// applicant_kiosk.cpp (the kiosk's login by a signed card read)
HttpResponse kiosk_nonce(Exchange& x);
HttpResponse kiosk_log_in(Exchange& x);
// kiosks.cpp (the kiosks registered by administrators)
HttpResponse list_kiosks(Exchange& x);
HttpResponse register_kiosk(Exchange& x);
HttpResponse revoke_kiosk(Exchange& x);
// applicant_cases.cpp (an applicant's own cases)
HttpResponse my_cases(Exchange& x);
HttpResponse my_case(Exchange& x);
HttpResponse applicant_submit(Exchange& x);
HttpResponse applicant_upload(Exchange& x);
HttpResponse applicant_withdraw(Exchange& x);
HttpResponse applicant_drafts(Exchange& x);
HttpResponse applicant_draft(Exchange& x);
HttpResponse save_applicant_draft(Exchange& x);
/// The applicant's draft `id` while it may still change (none when there is none yet); else the
/// answer: the accounts could not be read, or 409 draft_submitted once it became a case.
std::expected<std::optional<ApplicantDraft>, HttpResponse> editable_draft(Exchange& x, const std::string& id);
HttpResponse delete_applicant_draft(Exchange& x);
// applicant_prefill.cpp (the form pre-filled from the identity and the company's registration)
HttpResponse prefill_applicant_draft(Exchange& x);
// applicant_bundles.cpp (what an applicant may apply for; 情形引导)
HttpResponse applicant_bundles(Exchange& x);
HttpResponse applicant_bundle(Exchange& x);
HttpResponse applicant_guide(Exchange& x);

/// A user as the API shows it (sessions, users).
json::object user_json(const User& user);
/// An audit record as the API shows it (masked).
json::object audit_json(const AuditRecord& record);

}  // namespace onevisit::server::routes
