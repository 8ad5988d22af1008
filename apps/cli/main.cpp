// onevisit — the command-line tool for service designers, clerks and operators.
#include "cli/case_commands.hpp"
#include "cli/commands.hpp"

#include <onevisit/server/server.hpp>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>
#include <map>

int main(int argc, char** argv) {
  CLI::App app{"onevisit: workflows for \"one thing, one visit\" government services"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "onevisit 0.1.0");
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->default_val("warn");

  const std::map<std::string, onevisit::cli::OutputFormat> formats{{"text", onevisit::cli::OutputFormat::text},
                                                                  {"json", onevisit::cli::OutputFormat::json}};

  onevisit::cli::CheckOptions check;
  auto* check_command = app.add_subcommand("check", "Check workflow files: syntax, names, types, limits, lifecycles");
  check_command->add_option("files", check.paths, "Workflow files or directories (every *.flow below)")->required();
  check_command->add_option("--today", check.today, "The date the calendar warning counts from, YYYY-MM-DD (default: today)");
  check_command->add_option("--format", check.format, "Output format: text or json")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case));

  onevisit::cli::FormatOptions fmt;
  auto* fmt_command = app.add_subcommand("fmt", "Format workflow files in place (canonical layout)");
  fmt_command->add_option("files", fmt.paths, "Workflow files or directories; - formats stdin to stdout")->required();
  fmt_command->add_flag("--check", fmt.check_only, "List files that are not formatted and exit 1; change nothing");

  onevisit::cli::GraphOptions graph;
  auto* graph_command = app.add_subcommand("graph", "Draw a bundle's items or a lifecycle's states (DOT, Mermaid or SVG)");
  graph_command->add_option("file", graph.path, "A workflow file")->required();
  graph_command->add_option("--bundle", graph.bundle, "The bundle to draw (when the file has several)");
  graph_command->add_option("--lifecycle", graph.lifecycle, "Draw this lifecycle instead");
  const std::map<std::string, onevisit::cli::GraphFormat> graph_formats{{"dot", onevisit::cli::GraphFormat::dot},
                                                                       {"mermaid", onevisit::cli::GraphFormat::mermaid},
                                                                       {"svg", onevisit::cli::GraphFormat::svg}};
  graph_command->add_option("--format", graph.format, "dot, mermaid or svg (needs Graphviz)")
      ->transform(CLI::CheckedTransformer(graph_formats, CLI::ignore_case));

  onevisit::cli::StatsOptions stats;
  auto* stats_command = app.add_subcommand("stats", "A bundle's figures: materials, visits and working days, separately vs bundled");
  stats_command->add_option("files", stats.paths, "Workflow files or directories")->required();
  stats_command->add_option("--bundle", stats.bundle, "Only this bundle");
  stats_command->add_option("--given", stats.given, "A situation answer, field=value (repeatable)");
  stats_command->add_option("--today", stats.today, "The date today() and age() read, YYYY-MM-DD (default: today)");
  stats_command->add_option("--format", stats.format, "Output format: text or json")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case));

  onevisit::cli::DeployOptions deploy;
  auto* deploy_command = app.add_subcommand("deploy", "Store workflow versions in a case database");
  deploy_command->add_option("--db", deploy.database, "The SQLite database (created when missing), or a PostgreSQL URL postgresql://…")->required();
  deploy_command->add_option("files", deploy.paths, "Workflow files or directories")->required();
  deploy_command->add_option("--config", deploy.config, "Deployment configuration (TOML) with the [storage] keys");

  onevisit::cli::CaseOptions case_options;
  auto* case_command = app.add_subcommand("case", "Start cases, send commands, show and list them");
  case_command->require_subcommand(1);
  case_command->add_option("--db", case_options.database, "The SQLite database, or a PostgreSQL URL postgresql://…")->required();
  case_command->add_option("--format", case_options.format, "Output format: text or json")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case));
  case_command->add_option("--as", case_options.role, "The role acting: applicant, clerk, reviewer, supervisor");
  case_command->add_option("--actor", case_options.actor, "Who acts (a user name)");
  case_command->add_option("--command-id", case_options.command_id, "Idempotency key: the same id is applied once");
  case_command->add_option("--config", case_options.config, "Deployment configuration (TOML) with the [storage] keys");
  auto with_case = [&](CLI::App* sub) { sub->add_option("case", case_options.case_id, "The case id")->required(); };
  case_command->fallthrough();  // --db, --as ... may come before or after the action
  auto* start = case_command->add_subcommand("start", "Start a case");
  start->add_option("--bundle", case_options.bundle, "The bundle")->required();
  start->add_option("--field", case_options.fields, "A form field or situation answer, name=value (repeatable)");
  start->add_option("--applicant", case_options.applicant, "The applicant's ID number (stored masked)");
  start->add_option("--id", case_options.case_id, "The case id (generated when absent)");
  start->add_option("--channel", case_options.intake_channel, "How the case came in: window, online, mobile or kiosk")->default_val("window");
  auto* attach = case_command->add_subcommand("attach", "Attach a material (stored once by SHA-256)");
  with_case(attach);
  attach->add_option("material", case_options.material)->required();
  attach->add_option("file", case_options.file, "The document");
  attach->add_flag("--elicense", case_options.elicense, "Fetched from the e-license library instead of a file");
  auto* elicense = case_command->add_subcommand("elicense", "Fetch the case's e-license materials from the library");
  with_case(elicense);
  elicense->add_option("--config", case_options.config, "Deployment configuration with an [elicense] library")->required();
  auto* calls = case_command->add_subcommand("calls", "The case's calls to departments' systems, with their status");
  with_case(calls);
  auto* retry_call = case_command->add_subcommand("retry-call", "Deliver a parked call again");
  with_case(retry_call);
  retry_call->add_option("call", case_options.call_id, "The call's id (see `case calls`)")->required();
  auto* resolve_call = case_command->add_subcommand("resolve-call", "Close a parked call settled another way");
  with_case(resolve_call);
  resolve_call->add_option("call", case_options.call_id, "The call's id (see `case calls`)")->required();
  resolve_call->add_option("--note", case_options.note, "How it was settled")->required();
  auto* verify = case_command->add_subcommand("verify", "Verify a submitted material, or refuse it");
  with_case(verify);
  verify->add_option("material", case_options.material)->required();
  verify->add_option("--refuse", case_options.refuse, "Refuse with this reason");
  auto* fire = case_command->add_subcommand("fire", "Fire an item's lifecycle event (accept, approve, ...)");
  with_case(fire);
  fire->add_option("item", case_options.item)->required();
  fire->add_option("event", case_options.event)->required();
  fire->add_option("--reason", case_options.reason, "The reason, where the transition requires one");
  fire->add_option("--field", case_options.fields, "Another required field, name=value");
  auto* countersign = case_command->add_subcommand("countersign", "Decide a department's part of a joint item (会签: agree or refuse)");
  with_case(countersign);
  countersign->add_option("item", case_options.item, "The joint item")->required();
  countersign->add_option("department", case_options.part, "The department whose part is decided")->required();
  auto* agree = countersign->add_flag("--approve", case_options.approve, "Agree");
  countersign->add_option("--refuse", case_options.refuse, "Refuse, with this reason")->excludes(agree);
  countersign->add_option("--note", case_options.note, "The department's opinion when agreeing")->excludes("--refuse");
  countersign->add_option("--department", case_options.department, "The acting reviewer's department");
  auto* pause = case_command->add_subcommand("pause", "Stop an item's clock (or every item's)");
  with_case(pause);
  pause->add_option("--item", case_options.item);
  pause->add_option("--reason", case_options.reason)->required();
  pause->add_option("--department", case_options.department, "The acting reviewer's department");
  auto* resume = case_command->add_subcommand("resume", "Restart a clock stopped by a clerk");
  with_case(resume);
  resume->add_option("--item", case_options.item);
  resume->add_option("--department", case_options.department, "The acting reviewer's department");
  auto* special_start = case_command->add_subcommand("special-start", "Start a special procedure of an item (特别程序: 现场踏勘 ...)");
  with_case(special_start);
  special_start->add_option("item", case_options.item)->required();
  special_start->add_option("procedure", case_options.procedure, "The `special` name the item declares")->required();
  special_start->add_option("--reason", case_options.reason, "Why (told to the applicant in writing)")->required();
  special_start->add_option("--department", case_options.department, "The acting reviewer's department");
  auto* special_end = case_command->add_subcommand("special-end", "End an item's running special procedure with its result");
  with_case(special_end);
  special_end->add_option("item", case_options.item)->required();
  special_end->add_option("procedure", case_options.procedure, "The running procedure's name (checked when given)");
  special_end->add_option("--result", case_options.result, "What it found")->required();
  special_end->add_option("--department", case_options.department, "The acting reviewer's department");
  auto* withdraw = case_command->add_subcommand("withdraw", "Withdraw the application");
  with_case(withdraw);
  withdraw->add_option("--reason", case_options.reason);
  auto* deliver = case_command->add_subcommand("deliver", "Deliver the results (window, mail, electronic)");
  with_case(deliver);
  deliver->add_option("--channel", case_options.channel);
  auto* rate = case_command->add_subcommand("rate", "Record the applicant's rating (好差评, 1-5)");
  with_case(rate);
  rate->add_option("level", case_options.level)->required()->check(CLI::Range(1, 5));
  rate->add_option("--comment", case_options.comment);
  auto* show = case_command->add_subcommand("show", "Show a case: form, materials, items with deadlines");
  with_case(show);
  auto* history = case_command->add_subcommand("history", "A case's events");
  with_case(history);
  auto* list = case_command->add_subcommand("list", "List cases");
  list->add_option("--bundle", case_options.bundle);
  list->add_option("--status", case_options.status);
  list->add_option("--department", case_options.department);
  auto* worklist = case_command->add_subcommand("worklist", "Open items by due date, with yellow/red lights");
  worklist->add_option("--department", case_options.department);
  worklist->add_option("--bundle", case_options.bundle);

  onevisit::cli::SimulateOptions simulate;
  auto* simulate_command = app.add_subcommand("simulate", "Drive synthetic cases through the engine on a virtual clock");
  simulate_command->add_option("file", simulate.path, "A workflow file")->required();
  simulate_command->add_option("--bundle", simulate.bundle, "The bundle (when the file has several)");
  simulate_command->add_option("--cases", simulate.cases, "How many cases")->default_val(100);
  simulate_command->add_option("--seed", simulate.seed, "Random seed")->default_val(1);
  simulate_command->add_option("--corrections", simulate.correction_rate, "Share of items with a correction round")->default_val(0.1);
  simulate_command->add_option("--start", simulate.start, "Virtual start date")->default_val("2026-03-02");
  simulate_command->add_option("--format", simulate.format, "Output format: text or json")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case));

  for (auto* sub : case_command->get_subcommands()) sub->fallthrough();

  onevisit::cli::DispatchCommandOptions dispatch;
  auto* dispatch_command = app.add_subcommand("dispatch", "Deliver the outbox's calls to the departments' systems");
  dispatch_command->add_option("--db", dispatch.database, "The SQLite database, or a PostgreSQL URL postgresql://…")->required();
  dispatch_command->add_option("--config", dispatch.config, "Deployment configuration (TOML): systems and their adapters")->required();
  dispatch_command->add_flag("--once", dispatch.once, "Deliver what is due now and exit");
  dispatch_command->add_option("--interval-ms", dispatch.interval_ms, "Pause between rounds")->default_val(1000);

  onevisit::cli::ReportOptions report;
  auto* report_command = app.add_subcommand("report", "Service figures: on-time rate, working days, visits, corrections, 好差评");
  report_command->add_option("--db", report.database, "The SQLite database, or a PostgreSQL URL postgresql://…")->required();
  report_command->add_option("--config", report.config, "Deployment configuration (TOML) with the [storage] keys");
  report_command->add_option("--from", report.from, "Cases started on or after this day (YYYY-MM-DD)");
  report_command->add_option("--to", report.to, "Cases started on or before this day (YYYY-MM-DD)");
  report_command->add_option("--format", report.format, "Output format: text or json")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case));

  onevisit::cli::RetentionOptions retention;
  auto* retention_command = app.add_subcommand("retention", "Erase the personal data of closed cases whose bundle's retention has passed");
  retention_command->add_option("--db", retention.database, "The SQLite database, or a PostgreSQL URL postgresql://…")->required();
  retention_command->add_option("--config", retention.config, "Deployment configuration (TOML) with the [storage] keys");
  retention_command->add_option("--actor", retention.actor, "Who the cases' history names")->default_val("system:retention");

  onevisit::cli::StoreOptions store;
  auto* store_command = app.add_subcommand("store", "Keys that encrypt personal data at rest");
  store_command->require_subcommand(1);
  store_command->add_subcommand("new-key", "Print a new random key (base64) for [storage.keys]");
  auto* reseal = store_command->add_subcommand("reseal", "Encrypt every personal value under the current key (after a rotation)");
  reseal->add_option("--db", store.database, "The SQLite database")->required();
  reseal->add_option("--config", store.config, "Deployment configuration (TOML) with the [storage] keys")->required();

  onevisit::cli::MigrateOptions migrate;
  auto* migrate_command =
      app.add_subcommand("migrate", "Copy a district's SQLite file into an empty PostgreSQL database and verify the copy");
  migrate_command->add_option("--from", migrate.from, "The SQLite database")->required();
  migrate_command->add_option("--to", migrate.to, "The PostgreSQL URL postgresql://…")->required();
  migrate_command->add_option("--contents", migrate.contents, "The content folder (default: <from>.contents)");
  migrate_command->add_option("--config", migrate.config, "Deployment configuration (TOML) with the [storage] keys");

  onevisit::server::ServiceOptions serve;
  auto* serve_command = app.add_subcommand("serve", "Run the clerk service: REST API, web console, timers and adapter dispatch");
  serve_command->add_option("--db", serve.database, "The SQLite database (created when missing), or a PostgreSQL URL postgresql://… that several nodes share")->required();
  serve_command->add_option("--workflows", serve.workflows, "Workflows folder, deployed on first start")->required();
  serve_command->add_option("--config", serve.adapter_config, "Deployment configuration (TOML); default: every system logs its calls");
  serve_command->add_option("--listen", serve.listen, "address:port")->default_val("127.0.0.1:8080");
  serve_command->add_option("--threads", serve.threads, "HTTP worker threads")->default_val(4)->check(CLI::Range(1, 64));
  serve_command
      ->add_option("--max-connections", serve.max_connections,
                   "Open HTTP connections; more get 503 (each costs a descriptor)")
      ->default_val(512)
      ->check(CLI::Range(1, 1000000));
  serve_command->add_option("--console", serve.console_dir, "The web console's files (default: console/ next to the executable)");
  serve_command->add_flag("--secure-cookies", serve.secure_cookies, "Mark cookies Secure (clients come over HTTPS through a TLS proxy)");
  serve_command->add_flag("--reset-admin-password", serve.reset_admin_password, "Give the user admin a new generated password, shown once");
  serve_command->add_flag("--demo-staff", serve.demo_staff,
                          "Create a window clerk, a supervisor and a reviewer per department if missing, passwords shown once (tours)");
  serve_command->add_option("--public-url", serve.public_url,
                            "The address applicants reach the service at, printed as the QR code on notices (default: the address a request came to)");
  serve_command
      ->add_option("--clock-offset-days", serve.clock_offset_days,
                   "Training and trials only: the service's clock runs this many days ahead, so that deadlines come and pass")
      ->check(CLI::Range(-3650, 3650));
  serve_command->add_option("--audit-retention-days", serve.audit_retention_days, "Audit records younger than this cannot be pruned")
      ->default_val(180)
      ->check(CLI::Range(180, 36500));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));

  if (check_command->parsed()) return onevisit::cli::run_check(check, std::cout, std::cerr);
  if (fmt_command->parsed()) return onevisit::cli::run_fmt(fmt, std::cin, std::cout, std::cerr);
  if (graph_command->parsed()) return onevisit::cli::run_graph(graph, std::cout, std::cerr);
  if (stats_command->parsed()) return onevisit::cli::run_stats(stats, std::cout, std::cerr);
  if (deploy_command->parsed()) return onevisit::cli::run_deploy(deploy, std::cout, std::cerr);
  if (report_command->parsed()) return onevisit::cli::run_report(report, std::cout, std::cerr);
  if (retention_command->parsed()) return onevisit::cli::run_retention(retention, std::cout, std::cerr);
  if (migrate_command->parsed()) return onevisit::cli::run_migrate(migrate, std::cout, std::cerr);
  if (store_command->parsed()) {
    for (auto* sub : store_command->get_subcommands()) store.action = sub->get_name();
    return onevisit::cli::run_store(store, std::cout, std::cerr);
  }
  if (serve_command->parsed()) {
    if (log_level == "warn") spdlog::set_level(spdlog::level::info);  // a service says what it does
    return onevisit::server::run_serve(serve, std::cout, std::cerr);
  }
  if (dispatch_command->parsed()) return onevisit::cli::run_dispatch(dispatch, std::cout, std::cerr);
  if (simulate_command->parsed()) return onevisit::cli::run_simulate(simulate, std::cout, std::cerr);
  if (case_command->parsed()) {
    for (auto* sub : case_command->get_subcommands()) case_options.action = sub->get_name();
    return onevisit::cli::run_case(case_options, std::cout, std::cerr);
  }
  return 2;
}
