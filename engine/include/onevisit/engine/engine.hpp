// The embeddable engine: deploy workflows, start cases, send commands, query, subscribe.
//
//   auto engine = onevisit::engine::Engine::open({.database = "cases.db"});
//   (*engine)->deploy({"workflows/bundles/newborn.flow"});
//   auto started = (*engine)->start_case("newborn", form, {.command_id = "c-1", .role = "clerk"});
//   (*engine)->execute(Command{...FireEvent{"birth_cert", "accept"}...});
//
// Every command runs decide (pure) on the case's current state and commits the events, the
// new snapshot, item rows, timers and outbox entries in one store transaction. A retried
// command (same command id) returns its first result. When two threads race on one case,
// the loser re-decides on the fresh state.
//
// Thread safety: an Engine is safe to use from many threads at once; commands to different
// cases run in parallel (and their commits share transactions); commands to one case are
// serialised. Subscribers are called on the committing thread, after the commit.
//
// No global state: two Engines on two databases are independent.
#pragma once

#include <onevisit/engine/calendar.hpp>
#include <onevisit/engine/content_store.hpp>
#include <onevisit/engine/runtime.hpp>
#include <onevisit/engine/store.hpp>
#include <onevisit/engine/workflow.hpp>

#include <array>
#include <atomic>
#include <expected>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

namespace onevisit::dsl {
struct Program;  // dsl/program.hpp: loaded workflow files
}  // namespace onevisit::dsl

namespace onevisit::engine {

/// Where the engine reads time. Tests and `simulate` use VirtualClock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual Timestamp now() const = 0;
};

/// The system clock in the offices' local time (UTC + offset; China has no DST).
class SystemClock final : public Clock {
 public:
  explicit SystemClock(int utc_offset_minutes = 8 * 60) : offset_(utc_offset_minutes) {}
  Timestamp now() const override;

 private:
  int offset_;
};

/// A clock that moves only when told. Thread-safe.
class VirtualClock final : public Clock {
 public:
  explicit VirtualClock(Timestamp start) : now_(start) {}
  Timestamp now() const override { return now_.load(); }
  void set(Timestamp t) { now_.store(t); }
  void advance(Timestamp by) { now_.fetch_add(by); }

 private:
  std::atomic<Timestamp> now_;
};

struct EngineError {
  /// unavailable: the store's database could not be reached (StoreError::Kind::unavailable);
  /// the command may be sent again with its command id.
  enum class Kind { rejected, invalid_workflow, store, not_found, invalid, unavailable };
  Kind kind = Kind::invalid;
  /// For a rejection: its message for people (Chinese); otherwise what went wrong, for logs.
  std::string message;
  std::optional<Rejection> rejection;                   ///< for rejected: code, reason, details, detail
  std::vector<dsl::LocatedDiagnostic> diagnostics;       ///< for invalid_workflow
  static EngineError from(const StoreError& e);
};

struct EngineOptions {
  /// An SQLite file, or ":memory:" for a volatile in-memory store (tests, simulations).
  std::string database = ":memory:";
  /// Time source; null means the system clock at UTC+8. Not owned; must outlive the engine.
  const Clock* clock = nullptr;
  /// Where material contents are kept (content_store.hpp). Empty: `<database>.contents/`
  /// beside an SQLite file, memory for ":memory:".
  std::string content_folder;
  /// Keys that encrypt personal data in the SQLite file at rest (at_rest.hpp); null or empty:
  /// stored in clear. Ignored for ":memory:".
  std::shared_ptr<const AtRestKeys> keys;
  /// Where cases are kept, when the caller opened the store itself (open_store) to keep a
  /// reference: the adapter dispatcher drains its outbox, tests look at what is stored,
  /// `onevisit store reseal` works on it. Null: opened from `database` and `keys`.
  std::shared_ptr<Store> store;
};

/// The store Engine::open would open for `options`: memory for ":memory:", else the SQLite
/// file (created when missing) with the at-rest keys.
std::expected<std::shared_ptr<Store>, EngineError> open_store(const EngineOptions& options);

struct DeployReport {
  struct Entry {
    std::string bundle_id;
    int version = 0;
    std::string source_hash;
    bool new_version = false;  ///< false when the same source was deployed before
  };
  std::vector<Entry> bundles;
  /// The calendars the deployed bundles count on. A calendar whose days changed since its
  /// last deployed version is stored as the next version, and every running case on it
  /// adopts that version (AdoptCalendar: recorded, its deadlines recounted).
  struct CalendarEntry {
    std::string name;
    int version = 0;
    bool new_version = false;     ///< false when its days are those of the latest version
    std::size_t cases_recounted = 0;  ///< running cases that adopted this version now
  };
  std::vector<CalendarEntry> calendars;
  std::vector<dsl::LocatedDiagnostic> warnings;
};

/// Calendars are stored beside bundles, as deployed definitions named `calendar:<name>` (a
/// bundle id never holds a colon): versioned and immutable in the same way.
inline constexpr std::string_view kCalendarDefinitionPrefix = "calendar:";

struct CommandOptions {
  /// Idempotency key: a retry with the same id returns the first result and applies nothing
  /// again. Scoped to the case (a case start's id to the engine). Empty: the command cannot
  /// be recognised if retried, and no record of it is kept.
  std::string command_id;
  std::string actor = "system";
  std::string role = "system";
  /// How a case start came in (StartCase::channel, kChannels). Default: window. Read only by start_case.
  std::string channel = "window";
  /// The actor's department (Command::department), for a reviewer: clock control is theirs
  /// only on that department's items. Empty: none.
  std::string department;
};

struct CommandResult {
  std::string case_id;
  std::uint64_t version = 0;
  std::vector<std::string> events;  ///< event types, in order
  bool duplicate = false;           ///< the command id was seen before; nothing was applied
};

/// A case as queries see it: its state, with the workflow to interpret it.
/// One special procedure run (特别程序) as pages show it, counted on the bundle's calendar.
struct SpecialProcedureView {
  ItemIndex item = 0;
  std::uint32_t procedure = 0;  ///< index into ItemModel::specials
  std::size_t run = 0;          ///< index into ItemState::specials
  bool running = false;
  std::int64_t minutes_used = 0;  ///< working minutes, until now while it runs
  dsl::Decimal workdays_used;     ///< the same in working days (to 2 decimals)
  Timestamp due_at = 0;           ///< when it reaches its `max`
  Light light = Light::none;      ///< yellow near its max, red past it
};

struct CaseView {
  Case state;
  std::shared_ptr<const Workflow> workflow;
  std::vector<ItemRow> items;  ///< with deadlines and lights
  std::vector<SpecialProcedureView> specials;  ///< every special procedure run, by item then start
  /// The last day the bundle's calendar declares holidays for (WorkCalendar::declared_until);
  /// a deadline after it is provisional. None when the calendar declares no dates.
  std::optional<std::int64_t> calendar_declared_until;
};

struct HistoryEntry {
  std::uint64_t sequence = 0;
  std::string type;
  std::string payload;  ///< JSON
  Timestamp at = 0;
};

/// A committed event, decoded: what history views read (never the storage encoding).
struct RecordedEvent {
  std::uint64_t sequence = 0;
  std::string type;  ///< e.g. "ItemTransitioned"
  Event event;       ///< its indices refer to the case's workflow version
};

class Engine {
 public:
  static std::expected<std::unique_ptr<Engine>, EngineError> open(const EngineOptions& options);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  /// Loads, checks and compiles workflow files and stores every bundle in them as a
  /// version. Nothing is deployed when any file has an error. Deploying the same source
  /// again is a no-op; a changed source under an existing version number is refused.
  std::expected<DeployReport, EngineError> deploy(const std::vector<std::string>& paths);
  /// Like deploy, from texts in memory (path -> text); imports resolve among them.
  std::expected<DeployReport, EngineError> deploy_sources(const std::map<std::string, std::string>& files,
                                                          const std::vector<std::string>& roots);

  /// Loads the versions another process deployed to the store since this engine last
  /// looked (another node on a shared database, `onevisit deploy` on the same file): their
  /// bundles and calendars serve at once, new cases start on the newest. Costs one count of
  /// the stored versions when nothing changed. Returns how many versions it loaded.
  /// `onevisit serve` calls it every second (docs/runtime.md, Deploys on several nodes); a
  /// case found on a version not loaded yet calls it too.
  std::expected<std::size_t, EngineError> refresh_deployed();

  /// Deployed versions with their case counts.
  std::expected<std::vector<DeployedWorkflow>, EngineError> workflows();
  /// The newest version of a bundle (what new cases use), or a specific one.
  std::shared_ptr<const Workflow> workflow(const std::string& bundle_id, std::optional<int> version = std::nullopt) const;

  /// The one material list of a situation, as the intake page shows it while the clerk types:
  /// the materials the applicant brings (none an item of the bundle issues) for the items that
  /// apply to `answers` (field name -> text as typed; values that do not parse yet are left
  /// out, other fields take their defaults, and conditions on questions not answered yet do
  /// not hold), in the bundle's order.
  std::vector<MaterialIndex> situation_materials(const Workflow& workflow, const std::map<std::string, std::string>& answers) const;

  /// Starts a case on the newest version of `bundle_id`. The case id is generated unless
  /// `case_id` is given: the day's next case number, `YYYYMMDD-NNNN` (docs/runtime.md, Case
  /// numbers), durable and without gaps: a refused or failed start takes none.
  std::expected<CommandResult, EngineError> start_case(const std::string& bundle_id, const std::map<std::string, dsl::Value>& form,
                                                       const std::string& applicant, const CommandOptions& options,
                                                       std::string case_id = {});
  /// Runs any command on an existing case.
  std::expected<CommandResult, EngineError> execute(const std::string& case_id, CommandBody body, const CommandOptions& options);

  std::expected<CaseView, EngineError> get_case(const std::string& case_id);
  std::expected<std::vector<HistoryEntry>, EngineError> history(const std::string& case_id);
  /// The case's events, oldest first, decoded (Event::at is when each was recorded). An event
  /// the store holds but cannot decode is a store error (the case is damaged).
  std::expected<std::vector<RecordedEvent>, EngineError> events(const std::string& case_id);
  std::expected<std::vector<CaseSummary>, EngineError> list_cases(const CaseQuery& query);
  std::expected<std::vector<WorklistEntry>, EngineError> worklist(const CaseQuery& query);
  /// How many cases list_cases, and items worklist, would list from offset 0, counting at most
  /// `query.limit`.
  std::expected<std::uint64_t, EngineError> count_cases(const CaseQuery& query);
  std::expected<std::uint64_t, EngineError> count_worklist(const CaseQuery& query);

  /// Fires every timer due now (in due order, each as a TimerFired command). Returns how
  /// many fired. Timers that came due while the engine was down fire on the first call.
  std::expected<std::size_t, EngineError> fire_due_timers(std::size_t limit = 1000);

  /// The adapter calls (the outbox) of one case, or of every case for an empty `case_id`,
  /// with `status` (pending, parked, delivered ...; empty: any), oldest first, at most `limit`.
  std::expected<std::vector<OutboxRecord>, EngineError> calls(const std::string& case_id, const std::string& status,
                                                              std::size_t limit);
  /// A parked call of the case is delivered again from now on, its attempts counted afresh.
  /// not_found when the case has no such call; rejected (wrong_state) when it is not parked.
  std::expected<OutboxRecord, EngineError> retry_call(const std::string& case_id, std::uint64_t call_id);
  /// A parked call of the case was settled by hand (`note` says how; required, else invalid):
  /// it counts as delivered. Errors as for retry_call.
  std::expected<OutboxRecord, EngineError> resolve_call(const std::string& case_id, std::uint64_t call_id, const std::string& note);
  /// The timers due at `before` or earlier, in due order, at most `limit` (fire_due_timers
  /// fires those due now).
  std::expected<std::vector<TimerRecord>, EngineError> due_timers(Timestamp before, std::size_t limit);

  /// Erases the personal data of every closed case whose bundle's retention has passed
  /// (`retain ...`; docs/runtime.md, Retention), each as an ErasePersonalData command acting
  /// as `options.actor`. Open cases and cases of bundles without a retention are never
  /// touched. Returns the ids of the cases erased. Run daily by the service.
  std::expected<std::vector<std::string>, EngineError> apply_retention(const CommandOptions& options);

  /// Content-addressed material storage: the SHA-256 (hex) of `content`.
  static std::string content_hash(std::string_view content);
  /// Stores a material's bytes (once per content) and attaches them to the case: the
  /// content is durable before the command that refers to it commits.
  std::expected<CommandResult, EngineError> attach_content(const std::string& case_id, const std::string& material,
                                                           std::string_view content, const std::string& file_name,
                                                           const CommandOptions& options);
  /// The material contents of this engine.
  ContentStore& contents() { return *contents_; }

  using Listener = std::function<void(const std::string& case_id, const Event& event)>;
  /// Calls `listener` for every committed event. Returns an id for unsubscribe.
  std::size_t subscribe(Listener listener);
  void unsubscribe(std::size_t id);

  /// The working-day calendar a new case of the workflow counts on: the latest deployed
  /// version of the calendar it names (weekdays when it names none).
  const WorkCalendar& calendar_of(const Workflow& workflow) const;
  /// The calendar the case counts on: the version it adopted (Case::calendar_version), or the
  /// one compiled with its bundle version for cases from before calendars had versions.
  const WorkCalendar& calendar_of(const Workflow& workflow, const Case& state) const;
  Timestamp now() const { return clock_->now(); }

 private:
  Engine(std::shared_ptr<Store> store, std::unique_ptr<ContentStore> contents, const Clock* clock, std::unique_ptr<Clock> owned_clock);
  /// Compiles the stored versions not loaded yet; returns how many.
  std::expected<std::size_t, EngineError> load_deployed();
  /// Indexes the cases committed before the search index existed (Store::unindexed_cases).
  std::expected<void, EngineError> index_old_cases();
  std::expected<DeployReport, EngineError> deploy_program(dsl::Program program, bool persist);
  /// Decides and commits one command; `new_bundle` names the bundle for a StartCase. A
  /// StartCase with an empty case id takes the next case number once it is decided.
  std::expected<CommandResult, EngineError> run(const std::string& case_id, const Command& command,
                                                const std::optional<std::string>& new_bundle);
  /// The day's next case number: a returned one first, else one above the highest handed out
  /// (read from the store the first time a day is numbered, or after a conflict).
  std::expected<CaseNumber, EngineError> take_case_number(std::int32_t day, bool reread);
  /// A number taken by a start that did not commit, to be handed out again.
  void return_case_number(const CaseNumber& number);
  std::expected<std::optional<Case>, EngineError> load(const std::string& case_id, std::shared_ptr<const Workflow>& workflow);
  /// The case as cached (null when there is none), read from the store on a miss. Cached
  /// states are never changed: a command replaces its case's entry after its commit.
  std::expected<std::shared_ptr<const Case>, EngineError> load_shared(const std::string& case_id,
                                                                      std::shared_ptr<const Workflow>& workflow);
  std::mutex& case_lock(const std::string& case_id);
  /// Logs, once per calendar, that a deadline among `rows` lies past its declared years.
  void warn_if_provisional(const WorkCalendar& calendar, const std::string& case_id, const std::vector<ItemRow>& rows);

  std::shared_ptr<Store> store_;
  std::unique_ptr<ContentStore> contents_;
  std::unique_ptr<Clock> owned_clock_;
  const Clock* clock_;

  mutable std::shared_mutex workflows_mutex_;
  std::map<std::pair<std::string, int>, std::shared_ptr<const Workflow>> workflows_;
  std::map<std::pair<std::string, int>, std::shared_ptr<const WorkCalendar>> calendars_;  ///< by bundle version
  /// Deployed calendar versions by (calendar name, version), and each calendar's latest.
  std::map<std::pair<std::string, int>, std::shared_ptr<const WorkCalendar>> calendar_versions_;
  std::map<std::string, int, std::less<>> latest_calendar_version_;
  /// Stores the calendars `program`'s bundles count on as new versions where their days
  /// changed, and has every running case on a changed calendar adopt its new version.
  std::expected<std::vector<DeployReport::CalendarEntry>, EngineError> deploy_calendars(
      const dsl::Program& program,
      const std::vector<std::pair<std::shared_ptr<const Workflow>, std::shared_ptr<const WorkCalendar>>>& deployed);
  /// The calendar version a new case of `workflow` starts on (0: none deployed).
  int latest_calendar_version(const Workflow& workflow) const;
  std::mutex refresh_mutex_;  ///< one load_deployed at a time
  std::uint64_t deployed_seen_ = 0;  ///< the store's deployed_versions when last loaded; guarded by refresh_mutex_
  std::mutex provisional_mutex_;
  std::set<std::string> provisional_calendars_warned_;  ///< calendars whose provisional deadlines were logged

  std::shared_mutex cache_mutex_;
  std::unordered_map<std::string, std::shared_ptr<const Case>> cache_;  ///< open cases, by id
  std::array<std::mutex, 64> case_locks_;

  std::mutex listeners_mutex_;
  std::map<std::size_t, Listener> listeners_;
  std::size_t next_listener_ = 1;
  std::mutex numbers_mutex_;
  std::map<std::int32_t, std::uint64_t> last_number_;                  ///< by day: the highest handed out
  std::map<std::int32_t, std::vector<std::uint64_t>> returned_numbers_;  ///< by day: not committed after all
};

/// A Store kept in memory: for tests, simulations and embedding without durability.
std::unique_ptr<Store> make_memory_store();

}  // namespace onevisit::engine
