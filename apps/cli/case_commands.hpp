// `onevisit deploy`, `onevisit case ...` and `onevisit simulate`: the runtime from the shell.
#pragma once

#include "cli/commands.hpp"

#include <iosfwd>
#include <map>
#include <string>
#include <vector>

namespace onevisit::cli {

struct DeployOptions {
  std::string database;
  std::vector<std::string> paths;
  std::string config;  ///< deployment configuration: its [storage] keys, if any
};
int run_deploy(const DeployOptions& options, std::ostream& out, std::ostream& err);

/// One `onevisit case` invocation. `action` is start, attach, elicense, verify, fire, pause,
/// resume, special-start, special-end, withdraw, deliver, rate, show, list, history,
/// worklist, calls, retry-call or resolve-call.
struct CaseOptions {
  std::string database;
  std::string action;
  std::string case_id;
  std::string bundle;                  ///< start
  std::vector<std::string> fields;     ///< start: name=value; fire: name=value
  std::string applicant;               ///< start
  std::string intake_channel = "window";  ///< start: window, online, mobile or kiosk (办理渠道)
  std::string item;                    ///< fire, pause, resume, special-start, special-end
  std::string procedure;               ///< special-start, special-end: the `special` name
  std::string result;                  ///< special-end: what the procedure found
  std::string event;                   ///< fire
  std::string material;                ///< attach, verify
  std::string file;                    ///< attach
  bool elicense = false;               ///< attach
  std::string refuse;                  ///< verify, countersign: refuse with this reason
  bool approve = false;                ///< countersign: agree
  std::string part;                    ///< countersign: the department whose part of a joint item is decided
  std::string reason;                  ///< fire, pause, withdraw, special-start
  std::string channel = "window";      ///< deliver
  int level = 5;                       ///< rate
  std::string comment;                 ///< rate
  std::string role = "clerk";
  std::string actor = "cli";
  std::string command_id;
  std::string department;              ///< list, worklist; pause, resume, special-*, countersign: the actor's (a reviewer's)
  std::string status;                  ///< list
  std::string config;                  ///< the deployment configuration: [storage] keys; elicense: the library
  std::string call_id;                 ///< retry-call, resolve-call
  std::string note;                    ///< resolve-call: how it was settled; countersign: the opinion when agreeing
  OutputFormat format = OutputFormat::text;
};
int run_case(const CaseOptions& options, std::ostream& out, std::ostream& err);

struct SimulateOptions {
  std::string path;
  std::string bundle;
  std::size_t cases = 100;
  std::uint64_t seed = 1;
  double correction_rate = 0.1;
  std::string start = "2026-03-02";
  OutputFormat format = OutputFormat::text;
};
int run_simulate(const SimulateOptions& options, std::ostream& out, std::ostream& err);

struct DispatchCommandOptions {
  std::string database;
  std::string config;  ///< TOML deployment configuration (systems -> adapters)
  bool once = false;   ///< drain what is due now and exit
  int interval_ms = 1000;
};
/// Delivers the outbox's adapter calls until SIGINT/SIGTERM (or once).
int run_dispatch(const DispatchCommandOptions& options, std::ostream& out, std::ostream& err);

/// `onevisit store new-key` prints a new random key (base64) for [storage.keys];
/// `onevisit store reseal` seals every personal value under the current key
/// (docs/storage.md, Encryption at rest).
struct StoreOptions {
  std::string action;    ///< new-key or reseal
  std::string database;  ///< reseal
  std::string config;    ///< reseal: the configuration with the [storage] keys
};
int run_store(const StoreOptions& options, std::ostream& out, std::ostream& err);

/// `onevisit migrate --from file.db --to postgresql://…`: copies a district's SQLite file (its
/// cases with their history, records, timers, calls and contents) into an empty PostgreSQL
/// database and verifies counts and checksums (engine/store_migration.hpp).
struct MigrateOptions {
  std::string from;      ///< the SQLite file
  std::string to;        ///< the PostgreSQL URL
  std::string contents;  ///< the content folder; empty: `<from>.contents`
  std::string config;    ///< the configuration with the [storage] keys, when the file has any
};
int run_migrate(const MigrateOptions& options, std::ostream& out, std::ostream& err);

/// `onevisit retention`: erases the personal data of every closed case whose bundle's
/// `retain` period has passed (docs/runtime.md, Retention).
struct RetentionOptions {
  std::string database;
  std::string config;                   ///< deployment configuration: its [storage] keys, if any
  std::string actor = "system:retention";  ///< who the history names
};
int run_retention(const RetentionOptions& options, std::ostream& out, std::ostream& err);

/// `onevisit report`: the service figures (engine/report.hpp) of the cases in a database.
struct ReportOptions {
  std::string database;
  std::string from;  ///< YYYY-MM-DD: cases started on or after this day
  std::string to;    ///< YYYY-MM-DD: cases started on or before this day
  OutputFormat format = OutputFormat::text;
  std::string config;  ///< deployment configuration: its [storage] keys, if any
};
int run_report(const ReportOptions& options, std::ostream& out, std::ostream& err);

}  // namespace onevisit::cli
