#include "cli/case_commands.hpp"

#include "cli/files.hpp"

#include <onevisit/views/case_view.hpp>
#include <onevisit/views/format.hpp>
#include <onevisit/views/history_view.hpp>
#include <onevisit/views/report_view.hpp>
#include <onevisit/views/workflow_files.hpp>

#include <onevisit/adapters/config.hpp>
#include <onevisit/adapters/delivery.hpp>
#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/engine/database_url.hpp>
#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/figures.hpp>
#include <onevisit/engine/report.hpp>
#include <onevisit/engine/simulate.hpp>
#include <onevisit/engine/store_migration.hpp>

#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <csignal>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace onevisit::cli {

namespace json = boost::json;
using engine::Engine;
using views::case_json;
using views::expand_flow_paths;
using views::format_time;
using views::history_payload_json;
using views::report_json;
using engine::EngineError;

namespace {

// Errors repeat what was given (a case id, a field's value): personal numbers are masked.
void print_error(const EngineError& e, std::ostream& err) {
  err << "onevisit: " << adapters::mask_identifiers(e.message) << "\n";
  if (e.rejection) {
    for (const auto& f : e.rejection->field_errors) {
      err << "  " << f.field << ": " << adapters::mask_identifiers(f.message) << "\n";
    }
  }
  for (const auto& d : e.diagnostics) {
    if (d.diagnostic.severity == dsl::Severity::error) err << dsl::render_text(d);
  }
}

int exit_code(const EngineError& e) {
  return e.kind == EngineError::Kind::store || e.kind == EngineError::Kind::unavailable ? 2 : 1;
}

// Opens the database with the [storage] keys of `config` (none when `config` is empty).
// `store`, when given, gets the store the engine keeps its cases in (the dispatcher drains
// its outbox; `store reseal` works on it).
std::expected<std::unique_ptr<Engine>, EngineError> open_engine(const std::string& database, const std::string& config,
                                                                std::shared_ptr<engine::Store>* store = nullptr) {
  engine::EngineOptions options{database, nullptr};
  if (!config.empty()) {
    auto keys = adapters::load_storage_keys(config);
    if (!keys) return std::unexpected(EngineError{EngineError::Kind::invalid, keys.error(), {}, {}});
    options.keys = std::move(*keys);
  }
  if (store != nullptr) {
    auto opened = engine::open_store(options);
    if (!opened) return std::unexpected(opened.error());
    *store = options.store = std::move(*opened);
  }
  return Engine::open(options);
}

std::map<std::string, std::string> pairs(const std::vector<std::string>& items, std::string& error) {
  std::map<std::string, std::string> out;
  for (const auto& item : items) {
    const auto eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      error = "expected name=value, not '" + item + "'";
      return {};
    }
    out[item.substr(0, eq)] = item.substr(eq + 1);
  }
  return out;
}

}  // namespace

int run_deploy(const DeployOptions& options, std::ostream& out, std::ostream& err) {
  std::string error;
  const auto paths = expand_flow_paths(options.paths, error);
  if (!paths) {
    err << "onevisit deploy: " << error << "\n";
    return 2;
  }
  auto engine = open_engine(options.database, options.config);
  if (!engine) {
    print_error(engine.error(), err);
    return exit_code(engine.error());
  }
  auto report = (*engine)->deploy(*paths);
  if (!report) {
    print_error(report.error(), err);
    return exit_code(report.error());
  }
  for (const auto& b : report->bundles) {
    out << (b.new_version ? "deployed  " : "unchanged ") << b.bundle_id << " v" << b.version << "  " << b.source_hash.substr(0, 12) << "\n";
  }
  for (const auto& c : report->calendars) {
    out << (c.new_version ? "deployed  " : "unchanged ") << "calendar " << c.name << " v" << c.version;
    if (c.cases_recounted > 0) out << "  (" << c.cases_recounted << (c.cases_recounted == 1 ? " running case" : " running cases") << " recounted)";
    out << "\n";
  }
  auto list = (*engine)->workflows();
  if (list) {
    out << "versions in " << engine::masked_database(options.database) << ":\n";
    for (const auto& w : *list) out << "  " << w.bundle_id << " v" << w.version << "  " << w.cases << (w.cases == 1 ? " case\n" : " cases\n");
  }
  return 0;
}

int run_case(const CaseOptions& o, std::ostream& out, std::ostream& err) {
  auto opened = open_engine(o.database, o.config);
  if (!opened) {
    print_error(opened.error(), err);
    return exit_code(opened.error());
  }
  Engine& engine = **opened;
  // The actor's department: a reviewer controls the clock of their department's items only.
  const engine::CommandOptions command{o.command_id, o.actor, o.role, "window", o.department};
  auto report = [&](const std::expected<engine::CommandResult, EngineError>& r) {
    if (!r) {
      print_error(r.error(), err);
      return exit_code(r.error());
    }
    if (o.format == OutputFormat::json) {
      json::array events;
      for (const auto& e : r->events) events.push_back(json::string(e));
      out << json::serialize(json::object{{"case_id", r->case_id}, {"version", r->version}, {"duplicate", r->duplicate}, {"events", events}})
          << "\n";
    } else {
      out << r->case_id << " v" << r->version << (r->duplicate ? " (already done)" : "") << ":";
      for (const auto& e : r->events) out << " " << e;
      out << "\n";
    }
    return 0;
  };
  std::string error;
  if (o.action == "start") {
    const auto wf = engine.workflow(o.bundle);
    if (!wf) {
      err << "onevisit case start: no bundle '" << o.bundle << "' is deployed in " << engine::masked_database(o.database) << " (run onevisit deploy first)\n";
      return 1;
    }
    const auto given = pairs(o.fields, error);
    if (!error.empty()) {
      err << "onevisit case start: " << error << "\n";
      return 2;
    }
    std::map<std::string, dsl::Value> form;
    for (const auto& [name, text] : given) {
      auto value = engine::parse_field_value(*wf, name, text);
      if (!value) {
        err << "onevisit case start: " << adapters::mask_identifiers(value.error()) << "\n";
        return 1;
      }
      form[name] = std::move(*value);
    }
    auto started_by = command;
    started_by.channel = o.intake_channel;
    return report(engine.start_case(o.bundle, form, o.applicant, started_by, o.case_id));
  }
  if (o.case_id.empty() && o.action != "list" && o.action != "worklist") {
    err << "onevisit case " << o.action << ": which case? (--case ID)\n";
    return 2;
  }
  if (o.action == "attach") {
    std::string content;
    if (!o.elicense) {
      std::ifstream in(o.file, std::ios::binary);
      if (!in) {
        err << "onevisit case attach: cannot read '" << o.file << "'\n";
        return 2;
      }
      std::stringstream buffer;
      buffer << in.rdbuf();
      content = buffer.str();
    }
    if (o.elicense) return report(engine.execute(o.case_id, engine::AttachMaterial{o.material, "", o.file, true}, command));
    return report(engine.attach_content(o.case_id, o.material, content, std::filesystem::path(o.file).filename().string(), command));
  }
  if (o.action == "elicense") {
    auto config = adapters::load_adapter_config(o.config);
    if (!config) {
      err << "onevisit case elicense: " << config.error() << "\n";
      return 2;
    }
    if (!config->elicense) {
      err << "onevisit case elicense: " << o.config << " configures no [elicense] library\n";
      return 2;
    }
    auto fetched = adapters::fetch_elicenses(engine, o.case_id, *config->elicense, command);
    if (!fetched) {
      err << "onevisit case elicense: " << adapters::mask_identifiers(fetched.error()) << "\n";
      return 1;
    }
    for (const auto& m : fetched->attached) out << "attached from the e-license library: " << m << "\n";
    for (const auto& m : fetched->to_upload) out << "not in the library, to upload: " << m << "\n";
    return 0;
  }
  if (o.action == "calls" || o.action == "retry-call" || o.action == "resolve-call") {
    auto calls = engine.calls(o.case_id, "", 100'000);
    if (!calls) {
      err << "onevisit case " << o.action << ": " << calls.error().message << "\n";
      return 1;
    }
    if (o.action == "calls") {
      json::array a;
      for (const auto& c : *calls) {
        if (o.format == OutputFormat::json) {
          a.push_back(json::object{{"id", c.id}, {"key", c.idempotency_key}, {"department", c.department}, {"system", c.adapter},
                                   {"operation", c.operation}, {"status", c.status}, {"attempts", c.attempts},
                                   {"last_error", adapters::mask_identifiers(c.last_error)}});
        } else {
          out << c.id << "  " << c.status << "  " << c.department << "." << c.operation << " via " << c.adapter << "  attempts "
              << c.attempts << (c.last_error.empty() ? "" : "  " + adapters::mask_identifiers(c.last_error)) << "\n";
        }
      }
      if (o.format == OutputFormat::json) out << json::serialize(a) << "\n";
      return 0;
    }
    const auto call = std::find_if(calls->begin(), calls->end(), [&](const auto& c) { return std::to_string(c.id) == o.call_id; });
    if (call == calls->end()) {
      err << "onevisit case " << o.action << ": case " << adapters::mask_identifiers(o.case_id)
          << " has no call " << o.call_id << " (see `onevisit case calls`)\n";
      return 1;
    }
    auto done = o.action == "retry-call" ? engine.retry_call(o.case_id, call->id)
                                         : engine.resolve_call(o.case_id, call->id, o.note.empty() ? "" : o.note + " (by " + o.actor + ")");
    if (!done) {
      err << "onevisit case " << o.action << ": " << done.error().message << "\n";
      return 1;
    }
    out << "call " << call->id << (o.action == "retry-call" ? " will be delivered again\n" : " resolved by hand\n");
    return 0;
  }
  if (o.action == "verify") return report(engine.execute(o.case_id, engine::VerifyMaterial{o.material, o.refuse.empty(), o.refuse}, command));
  if (o.action == "fire") {
    auto fields = pairs(o.fields, error);
    if (!error.empty()) {
      err << "onevisit case fire: " << error << "\n";
      return 2;
    }
    if (!o.reason.empty()) fields["reason"] = o.reason;
    return report(engine.execute(o.case_id, engine::FireEvent{o.item, o.event, fields}, command));
  }
  if (o.action == "countersign") {
    // 会签: the reviewer of one of a joint item's departments decides that department's part;
    // the core refuses what is not theirs to decide (docs/runtime.md, Joint handling).
    if (o.approve == !o.refuse.empty()) {
      err << "onevisit case countersign: give either --approve or --refuse REASON\n";
      return 2;
    }
    return report(engine.execute(o.case_id, engine::DecidePart{o.item, o.part, o.approve, o.approve ? o.note : o.refuse}, command));
  }
  if (o.action == "pause") return report(engine.execute(o.case_id, engine::PauseClock{o.item, o.reason}, command));
  if (o.action == "resume") return report(engine.execute(o.case_id, engine::ResumeClock{o.item}, command));
  if (o.action == "special-start") {
    return report(engine.execute(o.case_id, engine::StartSpecialProcedure{o.item, o.procedure, o.reason}, command));
  }
  if (o.action == "special-end") {
    return report(engine.execute(o.case_id, engine::EndSpecialProcedure{o.item, o.procedure, o.result}, command));
  }
  if (o.action == "withdraw") return report(engine.execute(o.case_id, engine::Withdraw{o.reason}, command));
  if (o.action == "deliver") return report(engine.execute(o.case_id, engine::Deliver{o.channel}, command));
  if (o.action == "rate") return report(engine.execute(o.case_id, engine::Rate{o.level, o.comment}, command));
  if (o.action == "show") {
    auto view = engine.get_case(o.case_id);
    if (!view) {
      print_error(view.error(), err);
      return exit_code(view.error());
    }
    const auto j = case_json(*view);
    if (o.format == OutputFormat::json) {
      out << json::serialize(j) << "\n";
      return 0;
    }
    out << view->state.id << "  " << view->workflow->title << " v" << view->state.bundle_version << "  "
        << engine::to_string(view->state.status) << "  applicant "
        << std::string(j.at("applicant").as_string()) << "\n";
    out << "items:\n";
    for (const auto& item : j.at("items").as_array()) {
      const auto& x = item.as_object();
      out << "  " << std::string(x.at("item").as_string()) << "  " << std::string(x.at("state").as_string()) << "  due "
          << std::string(x.at("due").as_string()) << (x.at("due_provisional").as_bool() ? " (provisional)" : "")
          << (x.at("light").as_string().empty() ? "" : "  " + std::string(x.at("light").as_string())) << "\n";
      if (const auto* running = x.if_contains("running_special_procedure")) {
        const auto& r = running->as_object();
        out << "    special procedure " << std::string(r.at("procedure").as_string()) << " running since "
            << std::string(r.at("started_at").as_string()) << ", " << std::string(r.at("workdays_used").as_string()) << " of "
            << std::string(r.at("max_workdays").as_string()) << " workdays"
            << (r.at("light").as_string().empty() ? "" : "  " + std::string(r.at("light").as_string())) << "\n";
      }
    }
    out << "materials:\n";
    for (const auto& m : j.at("materials").as_array()) {
      const auto& x = m.as_object();
      out << "  " << std::string(x.at("material").as_string()) << "  " << std::string(x.at("status").as_string()) << "\n";
    }
    return 0;
  }
  if (o.action == "history") {
    auto history = engine.history(o.case_id);
    if (!history) {
      print_error(history.error(), err);
      return exit_code(history.error());
    }
    json::array a;
    for (const auto& h : *history) {
      if (o.format == OutputFormat::json) {
        a.push_back(json::object{{"sequence", h.sequence}, {"type", h.type}, {"at", format_time(h.at)}, {"payload", history_payload_json(h.type, h.payload)}});
      } else {
        out << h.sequence << "  " << format_time(h.at) << "  " << h.type << "  " << json::serialize(history_payload_json(h.type, h.payload)) << "\n";
      }
    }
    if (o.format == OutputFormat::json) out << json::serialize(a) << "\n";
    return 0;
  }
  if (o.action == "list" || o.action == "worklist") {
    engine::CaseQuery query;
    if (!o.bundle.empty()) query.bundle_id = o.bundle;
    if (!o.status.empty()) query.status = o.status;
    if (!o.department.empty()) query.department = o.department;
    if (o.action == "list") {
      auto cases = engine.list_cases(query);
      if (!cases) {
        print_error(cases.error(), err);
        return exit_code(cases.error());
      }
      json::array a;
      for (const auto& c : *cases) {
        if (o.format == OutputFormat::json) {
          a.push_back(json::object{{"case_id", c.case_id}, {"bundle", c.bundle_id}, {"bundle_version", c.bundle_version}, {"status", c.status},
                                   {"channel", c.channel}, {"applicant", adapters::mask_identifiers(c.applicant)},
                                   {"updated_at", format_time(c.updated_at)}});
        } else {
          out << c.case_id << "  " << c.bundle_id << " v" << c.bundle_version << "  " << c.status << "  " << format_time(c.updated_at) << "\n";
        }
      }
      if (o.format == OutputFormat::json) out << json::serialize(a) << "\n";
      return 0;
    }
    auto entries = engine.worklist(query);
    if (!entries) {
      print_error(entries.error(), err);
      return exit_code(entries.error());
    }
    json::array a;
    for (const auto& e : *entries) {
      if (o.format == OutputFormat::json) {
        json::object entry{{"case_id", e.case_id}, {"bundle", e.bundle_id}, {"item", e.item.item_id}, {"department", e.item.department},
                           {"state", e.item.state}, {"due", format_time(e.item.due_at)}, {"light", e.item.light}};
        if (!e.part.empty()) entry["part"] = e.part;  // 会签: this department's part of a joint item
        a.push_back(std::move(entry));
      } else {
        out << format_time(e.item.due_at) << "  " << (e.item.light.empty() ? "     " : e.item.light) << "  " << e.case_id << "  "
            << e.item.item_id << "  " << e.item.state << "  " << e.item.department
            << (e.part.empty() ? "" : "  countersign by " + e.part) << "\n";
      }
    }
    if (o.format == OutputFormat::json) out << json::serialize(a) << "\n";
    return 0;
  }
  err << "onevisit case: unknown action '" << o.action << "'\n";
  return 2;
}

int run_simulate(const SimulateOptions& o, std::ostream& out, std::ostream& err) {
  const auto start = dsl::parse_civil_date(o.start);
  if (!start) {
    err << "onevisit simulate: --start takes a date YYYY-MM-DD\n";
    return 2;
  }
  engine::VirtualClock clock((dsl::days_from_civil(*start) * 24 * 60 + 9 * 60) * 60'000);
  auto opened = Engine::open({":memory:", &clock});
  if (!opened) {
    print_error(opened.error(), err);
    return exit_code(opened.error());
  }
  auto deployed = (*opened)->deploy({o.path});
  if (!deployed) {
    print_error(deployed.error(), err);
    return exit_code(deployed.error());
  }
  std::string bundle = o.bundle;
  if (bundle.empty()) {
    if (deployed->bundles.size() != 1) {
      err << "onevisit simulate: '" << o.path << "' has " << deployed->bundles.size() << " bundles; choose one with --bundle\n";
      return 2;
    }
    bundle = deployed->bundles.front().bundle_id;
  }
  auto report = engine::simulate(**opened, clock, {bundle, o.cases, o.seed, o.correction_rate, 90});
  if (!report) {
    print_error(report.error(), err);
    return exit_code(report.error());
  }
  const auto& r = *report;
  if (o.format == OutputFormat::json) {
    out << json::serialize(json::object{{"bundle", bundle},
                                        {"cases_started", r.cases_started},
                                        {"cases_completed", r.cases_completed},
                                        {"commands", r.commands},
                                        {"rejected_commands", r.rejected_commands},
                                        {"corrections", r.corrections},
                                        {"timers_fired", r.timers_fired},
                                        {"commands_per_second", r.commands_per_second},
                                        {"average_workdays", r.average_workdays},
                                        {"on_time_rate", r.on_time_rate}})
        << "\n";
  } else {
    out << "simulated " << r.cases_started << " cases of " << bundle << " (seed " << o.seed << ")\n";
    out << "  completed        " << r.cases_completed << "\n";
    out << "  commands         " << r.commands << " (" << static_cast<long long>(r.commands_per_second) << "/s through the engine)\n";
    out << "  corrections      " << r.corrections << "\n";
    out << "  timers fired     " << r.timers_fired << "\n";
    out << "  average workdays " << r.average_workdays << " per completed case\n";
    out << "  on time          " << r.on_time_rate << "% of items\n";
    if (r.rejected_commands) out << "  rejected         " << r.rejected_commands << " (first: " << r.first_problem << ")\n";
  }
  return r.rejected_commands ? 1 : 0;
}

namespace {
std::atomic<bool> g_stop{false};
extern "C" void request_stop(int) { g_stop.store(true); }
}  // namespace

int run_dispatch(const DispatchCommandOptions& o, std::ostream& out, std::ostream& err) {
  auto config = adapters::load_adapter_config(o.config);
  if (!config) {
    err << "onevisit dispatch: " << config.error() << "\n";
    return 1;
  }
  std::shared_ptr<engine::Store> store;
  auto opened = open_engine(o.database, o.config, &store);
  if (!opened) {
    print_error(opened.error(), err);
    return exit_code(opened.error());
  }
  adapters::Delivery delivery(**opened, *store, *config);
  std::signal(SIGINT, request_stop);
  std::signal(SIGTERM, request_stop);
  adapters::DeliveryRound total;
  do {
    auto round = delivery.run_once();
    if (!round) {
      err << "onevisit dispatch: " << round.error() << "\n";
      return 2;
    }
    total.dispatch.delivered += round->dispatch.delivered;
    total.dispatch.retried += round->dispatch.retried;
    total.dispatch.parked += round->dispatch.parked;
    total.dispatch.deferred += round->dispatch.deferred;
    total.dispatch.results += round->dispatch.results;
    total.receipts += round->receipts;
    total.quarantined += round->quarantined;
    if (o.once) break;
    for (int waited = 0; waited < o.interval_ms && !g_stop.load(); waited += 50) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (!g_stop.load());
  out << "delivered " << total.dispatch.delivered << ", to retry " << total.dispatch.retried << ", parked " << total.dispatch.parked
      << ", held by open circuits " << total.dispatch.deferred << "; answers applied " << total.dispatch.results + total.receipts
      << ", receipts quarantined " << total.quarantined << "\n";
  return 0;
}

int run_store(const StoreOptions& o, std::ostream& out, std::ostream& err) {
  if (o.action == "new-key") {
    // Only the key: the operator puts it into [storage.keys] under an id of their choosing.
    out << engine::AtRestKeys::generate_base64() << "\n";
    return 0;
  }
  if (o.config.empty()) {
    err << "onevisit store " << o.action << ": --config names the configuration with the [storage] keys\n";
    return 2;
  }
  std::shared_ptr<engine::Store> store;
  auto opened = open_engine(o.database, o.config, &store);
  if (!opened) {
    print_error(opened.error(), err);
    return exit_code(opened.error());
  }
  auto report = engine::reseal_sqlite_store(*store);
  if (!report) {
    err << "onevisit store reseal: " << report.error().message << "\n";
    return 2;
  }
  out << "sealed " << report->resealed << " values under the current key";
  if (!report->retired.empty()) {
    out << "; keys no longer needed:";
    for (const auto& id : report->retired) out << " " << id;
  }
  out << "\n";
  return 0;
}

int run_migrate(const MigrateOptions& o, std::ostream& out, std::ostream& err) {
  std::shared_ptr<const engine::AtRestKeys> keys;
  if (!o.config.empty()) {
    auto loaded = adapters::load_storage_keys(o.config);
    if (!loaded) {
      err << "onevisit migrate: " << loaded.error() << "\n";
      return 2;
    }
    keys = std::move(*loaded);
  }
  auto report = engine::migrate_sqlite_to_postgres(o.from, o.contents.empty() ? o.from + ".contents" : o.contents, o.to, keys);
  if (!report) {
    err << "onevisit migrate: " << report.error().message << "\n";
    return 2;
  }
  out << "copied and verified:";
  for (const auto& [table, rows] : report->rows) out << " " << table << " " << rows << ";";
  out << " contents " << report->contents << "\n";
  for (const auto& [table, sum] : report->checksums) out << "checksum " << table << " sha256:" << sum << " (equal on both sides)\n";
  return 0;
}

int run_retention(const RetentionOptions& o, std::ostream& out, std::ostream& err) {
  auto opened = open_engine(o.database, o.config);
  if (!opened) {
    print_error(opened.error(), err);
    return exit_code(opened.error());
  }
  auto erased = (*opened)->apply_retention({"", o.actor, "system"});
  if (!erased) {
    print_error(erased.error(), err);
    return exit_code(erased.error());
  }
  out << "erased the personal data of " << erased->size() << (erased->size() == 1 ? " closed case" : " closed cases");
  for (std::size_t i = 0; i < erased->size(); ++i) out << (i == 0 ? ": " : ", ") << (*erased)[i];
  out << "\n";
  return 0;
}

int run_report(const ReportOptions& o, std::ostream& out, std::ostream& err) {
  engine::ReportPeriod period;
  for (const auto& [text, bound, next_day] : {std::tuple{&o.from, &period.from, false}, std::tuple{&o.to, &period.to, true}}) {
    if (text->empty()) continue;
    const auto date = dsl::parse_civil_date(*text);
    if (!date) {
      err << "onevisit report: --from and --to take a date YYYY-MM-DD, not '" << *text << "'\n";
      return 2;
    }
    *bound = (dsl::days_from_civil(*date) + (next_day ? 1 : 0)) * 24 * 60 * 60'000;
  }
  auto opened = open_engine(o.database, o.config);
  if (!opened) {
    print_error(opened.error(), err);
    return exit_code(opened.error());
  }
  auto report = engine::service_report(**opened, period);
  if (!report) {
    print_error(report.error(), err);
    return exit_code(report.error());
  }
  if (o.format == OutputFormat::json) {
    out << json::serialize(report_json(*report)) << "\n";
    return 0;
  }
  auto print = [&](const engine::ServiceFigures& f, const std::string& heading) {
    out << heading << "\n";
    out << "  cases started / completed / withdrawn  " << f.cases_started << " / " << f.cases_completed << " / " << f.cases_withdrawn << "\n";
    out << "  on time                                " << f.on_time_rate << "% of " << f.items_finished << " finished items\n";
    out << "  average working days                   " << f.average_workdays << " per completed case\n";
    out << "  immediate handling (即办率)             " << f.immediate_rate << "%\n";
    out << "  fully online                           " << f.fully_online_rate << "%\n";
    out << "  materials uploaded / from e-licenses   " << f.materials_uploaded << " / " << f.materials_from_elicense << "\n";
    out << "  average visits                         " << f.average_visits << " per case\n";
    out << "  special procedures (特别程序)           " << f.special_procedures << ", " << f.special_procedure_workdays
        << " working days (" << f.special_procedure_workdays_paused << " outside the limit), " << f.special_procedures_overdue
        << " past their max\n";
    out << "  corrections (补正)                      " << f.corrections_per_case << " per case, " << f.correction_workdays
        << " working days\n";
    out << "  waiting for the applicant             " << f.waiting_workdays << " working days\n";
    out << "  ratings (好差评) 1..5                   ";
    for (const auto n : f.ratings) out << n << " ";
    out << "  good " << f.good_rating_rate << "% of " << f.rated << "\n";
    if (!f.overdue_cases_by_department.empty()) {
      out << "  overdue cases by department           ";
      for (const auto& [department, n] : f.overdue_cases_by_department) out << " " << department << "=" << n;
      out << "\n";
    }
  };
  for (const auto& b : report->bundles) print(b, b.bundle_id + "  " + b.title);
  print(report->overall, "overall");
  return 0;
}

}  // namespace onevisit::cli
