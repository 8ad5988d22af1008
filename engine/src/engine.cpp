#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/search.hpp>

#include <onevisit/dsl/identifiers.hpp>
#include <onevisit/dsl/personal_numbers.hpp>
#include <onevisit/engine/calendars.hpp>
#include <onevisit/engine/compile.hpp>
#include <onevisit/engine/figures.hpp>

#include <onevisit/engine/formats.hpp>

#include "store/codec.hpp"
#include "store/postgres/store.hpp"
#include "hash.hpp"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <limits>
#include <random>
#include <set>

namespace onevisit::engine {

namespace json = boost::json;

Timestamp SystemClock::now() const {
  using namespace std::chrono;
  const auto utc = duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  return utc + static_cast<Timestamp>(offset_) * 60'000;
}

EngineError EngineError::from(const StoreError& e) {
  EngineError error;
  error.kind = e.kind == StoreError::Kind::not_found     ? Kind::not_found
               : e.kind == StoreError::Kind::unavailable ? Kind::unavailable
                                                         : Kind::store;
  error.message = e.message;
  return error;
}

namespace {

EngineError make_error(EngineError::Kind kind, std::string message) {
  EngineError e;
  e.kind = kind;
  e.message = std::move(message);
  return e;
}

// The local day of an instant as YYYYMMDD: the day a case number counts in.
std::int32_t civil_day_number(Timestamp at) {
  const auto d = dsl::civil_from_days(day_of(at / 60'000));
  return d.year * 10000 + d.month * 100 + d.day;
}

// A generated case id, as people read it aloud at a window: the day, a dash and the day's
// number in at least four digits ("20261207-0042"; docs/runtime.md, Case numbers).
std::string case_number_id(const CaseNumber& number) {
  char id[40];
  std::snprintf(id, sizeof id, "%08d-%04llu", static_cast<int>(number.day), static_cast<unsigned long long>(number.sequence));
  return id;
}

// {"case_id":…,"version":…,"events":[…]}, written directly: one per command, so no JSON tree.
std::string result_json(const CommandResult& r) {
  std::string out = "{\"case_id\":";
  out += json::serialize(json::string_view(r.case_id));
  out += ",\"version\":";
  out += std::to_string(r.version);
  out += ",\"events\":[";
  for (std::size_t i = 0; i < r.events.size(); ++i) {
    if (i > 0) out += ',';
    out += json::serialize(json::string_view(r.events[i]));
  }
  out += "]}";
  return out;
}

CommandResult result_from_json(const std::string& text, bool duplicate) {
  CommandResult r;
  r.duplicate = duplicate;
  boost::system::error_code ec;
  const auto j = json::parse(text, ec);
  if (ec || !j.is_object()) return r;
  const auto& o = j.as_object();
  if (const auto* v = o.if_contains("case_id"); v && v->is_string()) r.case_id = std::string(v->as_string());
  if (const auto* v = o.if_contains("version"); v && v->is_number()) r.version = v->to_number<std::uint64_t>();
  if (const auto* v = o.if_contains("events"); v && v->is_array()) {
    for (const auto& e : v->as_array()) {
      if (e.is_string()) r.events.emplace_back(e.as_string());
    }
  }
  return r;
}

// Every file a bundle's unit sees, as {path: text}: what is stored as its source.
std::string source_bundle(const dsl::Program& program, const Workflow& wf) {
  json::object files;
  const auto unit = program.find(wf.source_ref.file);
  if (!unit) return "{}";
  for (const auto u : program.visible_from(*unit)) files[program.units[u].path] = program.units[u].text;
  json::object o{{"root", wf.source_ref.file}, {"files", std::move(files)}};
  return json::serialize(o);
}

// A snapshot every this many events (when a commit crosses a multiple of it). In between, the
// store keeps the latest snapshot and the events after it, and restore() replays them through
// the same apply() as live commands: at most kSnapshotEvery - 1 events plus one command's.
constexpr std::uint64_t kSnapshotEvery = 16;

// The case as stored: its latest snapshot (an empty case when there is none) with the events
// after it applied.
std::expected<Case, std::string> restore(const StoredCase& stored, const Workflow& wf) {
  Case state;
  if (stored.snapshot_version > 0) {
    auto decoded = codec::decode_case(stored.snapshot, wf);
    if (!decoded) return std::unexpected(decoded.error());
    state = std::move(*decoded);
    if (state.version != stored.snapshot_version) {
      return std::unexpected("its snapshot says version " + std::to_string(state.version) + ", stored as version " +
                             std::to_string(stored.snapshot_version));
    }
  } else {
    state.id = stored.summary.case_id;
  }
  for (const auto& e : stored.events) {
    if (e.sequence != state.version + 1) {
      return std::unexpected("event " + std::to_string(e.sequence) + " follows version " + std::to_string(state.version));
    }
    auto event = codec::decode_event(e.type, e.payload, e.recorded_at);
    if (!event) return std::unexpected("event " + std::to_string(e.sequence) + ": " + event.error());
    apply(wf, state, *event);
  }
  if (state.version != stored.summary.version) {
    return std::unexpected("replay ends at version " + std::to_string(state.version) + ", the case is at version " +
                           std::to_string(stored.summary.version));
  }
  return state;
}

// Erasure replaces the personal values wherever the case stored them before: in every event,
// in its outbox payloads and in its snapshot (docs/runtime.md, Retention). `after` is the
// case with the PersonalDataErased event applied; it becomes what the new snapshot decodes to,
// so that the live state and a replay of the rewritten history are the same.
std::expected<void, EngineError> rewrite_for_erasure(Store& store, const Workflow& wf, const Case& before, Case& after,
                                                     CommitRequest& request) {
  const auto values = personal_values(wf, before);
  const auto damaged = [&](const std::string& what, const std::string& why) {
    return std::unexpected(make_error(EngineError::Kind::store, "case '" + request.case_id + "': " + what + " is damaged: " + why));
  };
  auto events = store.load_events(request.case_id);
  if (!events) return std::unexpected(EngineError::from(events.error()));
  for (const auto& e : *events) {
    auto redacted = codec::redact(e.payload, values);
    if (!redacted) return damaged("event " + std::to_string(e.sequence), redacted.error());
    if (*redacted) request.rewrite_events.push_back(StoredEvent{e.sequence, e.type, std::move(**redacted), e.recorded_at});
  }
  auto calls = store.list_outbox(request.case_id, "", std::numeric_limits<std::uint32_t>::max());
  if (!calls) return std::unexpected(EngineError::from(calls.error()));
  for (const auto& o : *calls) {
    auto redacted = codec::redact(o.payload, values);
    if (!redacted) return damaged("outbox entry " + std::to_string(o.id), redacted.error());
    if (*redacted) request.rewrite_outbox.emplace_back(o.id, std::move(**redacted));
  }
  request.snapshot = codec::encode_case(after);
  auto redacted = codec::redact(request.snapshot, values);
  if (!redacted) return damaged("its state", redacted.error());
  if (*redacted) request.snapshot = std::move(**redacted);
  auto decoded = codec::decode_case(request.snapshot, wf);
  if (!decoded) return damaged("its erased state", decoded.error());
  after = std::move(*decoded);
  return {};
}

bool same_row(const ItemRow& a, const ItemRow& b) {
  return a.item_id == b.item_id && a.department == b.department && a.state == b.state && a.final == b.final &&
         a.due_at == b.due_at && a.light == b.light && a.urged == b.urged && a.joint == b.joint && a.parts == b.parts;
}

// Adds to `request` the item rows and timers that differ between `before` and `after` (the
// store holds those of `before`). Rows and timers are pure functions of an item's state, the
// case's id and its status, so only the items whose state changed are looked at — unless the
// status or id changed, or a timer fired (`fired_timer`: cancelled unless it still applies).
// Timer ids name their item, so the old and new timers of one item are compared alone.
// `calendar` counts `before`, `after_calendar` counts `after`: they differ when the case
// adopted a new calendar version, and then every item is looked at again.
void add_changed_effects(const Workflow& wf, const WorkCalendar& calendar, const WorkCalendar& after_calendar, const Case& before,
                         const Case& after, const std::string* fired_timer, CommitRequest& request) {
  const bool started = before.version == 0;
  const bool every_item = started || fired_timer || before.status != after.status || before.id != after.id ||
                          before.items.size() != after.items.size() || &calendar != &after_calendar;
  std::vector<TimerRecord> old_timers, new_timers;
  for (ItemIndex i = 0; i < after.items.size(); ++i) {
    const bool existed = !started && i < before.items.size();
    if (!every_item && before.items[i] == after.items[i]) continue;
    ItemRow row = item_row(wf, after_calendar, after, i);
    if (!existed || !same_row(item_row(wf, calendar, before, i), row)) request.items.push_back(std::move(row));
    if (existed) item_timers(wf, calendar, before, i, old_timers);
    item_timers(wf, after_calendar, after, i, new_timers);
  }
  const auto has_new = [&](const std::string& id) {
    return std::any_of(new_timers.begin(), new_timers.end(), [&](const TimerRecord& t) { return t.timer_id == id; });
  };
  for (const auto& t : old_timers) {
    if (!has_new(t.timer_id)) request.cancel_timers.push_back(t.timer_id);
  }
  if (fired_timer && !has_new(*fired_timer)) request.cancel_timers.push_back(*fired_timer);
  for (auto& t : new_timers) {
    const bool unchanged = std::any_of(old_timers.begin(), old_timers.end(), [&](const TimerRecord& o) {
      return o.timer_id == t.timer_id && o.due_at == t.due_at && o.payload == t.payload;
    });
    if (!unchanged) request.set_timers.push_back(std::move(t));
  }
}

// For people, like a rejection's message; the case id as given, its personal numbers masked.
EngineError no_case(const std::string& case_id) {
  return make_error(EngineError::Kind::not_found,
                    "没有找到办件" + dsl::truncate_utf8(dsl::mask_personal_numbers(case_id), 80) + "，请核对办件编号。");
}

// An upload whose content is none of the material's declared formats, as a rejection that
// names the material, the formats it takes and what the file is (never only its name).
EngineError format_refused(const MaterialModel& material, std::string_view content, const std::string& file_name) {
  const auto found = sniff_format(content);
  std::string wanted;
  for (const auto& f : material.formats) wanted += (wanted.empty() ? "" : "、") + format_title(f);
  const std::string what = found.empty() ? "无法识别的文件" : format_title(found);
  Rejection r;
  r.code = Rejection::Code::invalid;
  r.reason = "unsupported_format";
  r.message = "「" + material.title + "」只接受" + wanted + "。所选文件“" +
              dsl::truncate_utf8(dsl::mask_personal_numbers(file_name), 80) + "”的内容是" + what +
              "（按文件内容判断，与文件名无关），请另选文件。";
  std::string formats;
  for (const auto& f : material.formats) formats += (formats.empty() ? "" : ", ") + f;
  r.detail = "Expected material '" + material.id + "' in " + formats + ", but the content is " +
             (found.empty() ? std::string("of no known type") : std::string(found));
  r.details = {{"material", {material.id}}, {"formats", material.formats}, {"detected", {std::string(found)}}};
  EngineError e = make_error(EngineError::Kind::rejected, r.message);
  e.rejection = std::move(r);
  return e;
}

}  // namespace

std::string Engine::content_hash(std::string_view content) { return sha256_hex(content); }

std::expected<CommandResult, EngineError> Engine::attach_content(const std::string& case_id, const std::string& material,
                                                                 std::string_view content, const std::string& file_name,
                                                                 const CommandOptions& options) {
  // Declared formats are checked by content, before a byte is stored: a refused file changes
  // nothing. (An unknown case or material is left to the command, which says so.)
  std::shared_ptr<const Workflow> wf;
  auto loaded = load(case_id, wf);
  if (!loaded) return std::unexpected(loaded.error());
  if (*loaded && wf) {
    if (const auto m = wf->find_material(material); m && !accepts(wf->materials[*m], content)) {
      return std::unexpected(format_refused(wf->materials[*m], content, file_name));
    }
  }
  auto hash = contents_->put(content);
  if (!hash) return std::unexpected(EngineError::from(hash.error()));
  return execute(case_id, AttachMaterial{material, *hash, file_name, false}, options);
}

Engine::Engine(std::shared_ptr<Store> store, std::unique_ptr<ContentStore> contents, const Clock* clock,
               std::unique_ptr<Clock> owned_clock)
    : store_(std::move(store)), contents_(std::move(contents)), owned_clock_(std::move(owned_clock)), clock_(clock ? clock : owned_clock_.get()) {}

Engine::~Engine() = default;

std::expected<std::shared_ptr<Store>, EngineError> open_store(const EngineOptions& options) {
  if (options.database == ":memory:") return std::shared_ptr<Store>(make_memory_store());
  if (is_postgres_url(options.database)) {
    PostgresOptions postgres;
    postgres.keys = options.keys;
    auto opened = open_postgres_store(options.database, postgres);
    if (!opened) return std::unexpected(EngineError::from(opened.error()));
    return std::shared_ptr<Store>(std::move(*opened));
  }
  SqliteOptions sqlite;
  sqlite.keys = options.keys;
  auto opened = open_sqlite_store(options.database, sqlite);
  if (!opened) return std::unexpected(EngineError::from(opened.error()));
  return std::shared_ptr<Store>(std::move(*opened));
}

std::expected<std::unique_ptr<Engine>, EngineError> Engine::open(const EngineOptions& options) {
  std::shared_ptr<Store> store = options.store;
  if (!store) {
    auto opened = open_store(options);
    if (!opened) return std::unexpected(opened.error());
    store = std::move(*opened);
  }
  std::unique_ptr<ContentStore> contents;
  if (options.content_folder.empty() && options.database == ":memory:") {
    contents = make_memory_content_store();
  } else if (options.content_folder.empty() && is_postgres_url(options.database)) {
    // Every node of one PostgreSQL database sees the same uploads.
    auto shared = make_postgres_content_store(options.database, options.keys);
    if (!shared) return std::unexpected(make_error(EngineError::Kind::store, shared.error()));
    contents = std::move(*shared);
  } else {
    auto folder = make_folder_content_store(options.content_folder.empty() ? options.database + ".contents" : options.content_folder,
                                            options.database == ":memory:" ? nullptr : options.keys);
    if (!folder) return std::unexpected(make_error(EngineError::Kind::store, folder.error()));
    contents = std::move(*folder);
  }
  std::unique_ptr<Clock> owned;
  if (!options.clock) owned = std::make_unique<SystemClock>();
  std::unique_ptr<Engine> engine(new Engine(std::move(store), std::move(contents), options.clock, std::move(owned)));
  if (auto loaded = engine->load_deployed(); !loaded) return std::unexpected(loaded.error());
  if (auto indexed = engine->index_old_cases(); !indexed) return std::unexpected(indexed.error());
  return engine;
}

// Cases from before the search index (schema 7) are indexed here, once, at the first open of
// the migrated file: their names and numbers are only in the sealed events, which only the
// engine can read (docs/storage.md, Search index).
std::expected<void, EngineError> Engine::index_old_cases() {
  std::size_t indexed = 0;
  for (;;) {
    auto batch = store_->unindexed_cases(256);
    if (!batch) return std::unexpected(EngineError::from(batch.error()));
    if (batch->empty()) break;
    for (const auto& case_id : *batch) {
      // Read past the cache: a district's old cases would all stay in memory otherwise.
      auto stored = store_->load_case(case_id);
      if (!stored) return std::unexpected(EngineError::from(stored.error()));
      std::vector<std::string> tokens;
      if (*stored) {
        if (const auto wf = workflow((*stored)->summary.bundle_id, (*stored)->summary.bundle_version)) {
          auto state = restore(**stored, *wf);
          if (!state) return std::unexpected(make_error(EngineError::Kind::store, "case " + case_id + ": " + state.error()));
          tokens = search_tokens(*wf, *state);
        }
      }
      std::set<std::string> actors;
      if (auto history = events(case_id); history) {
        for (const auto& e : *history) {
          if (!e.event.actor.empty() && e.event.actor != "system") actors.insert(e.event.actor);
        }
      }
      if (auto done = store_->index_case(case_id, tokens, {actors.begin(), actors.end()}); !done) {
        return std::unexpected(EngineError::from(done.error()));
      }
      ++indexed;
    }
  }
  if (indexed > 0) spdlog::info("search index: indexed {} cases from before it existed", indexed);
  return {};
}

std::expected<std::size_t, EngineError> Engine::refresh_deployed() {
  auto count = store_->deployed_versions();
  if (!count) return std::unexpected(EngineError::from(count.error()));
  {
    std::lock_guard lock(refresh_mutex_);
    if (*count == deployed_seen_) return 0;
  }
  return load_deployed();
}

// Compiles every stored version not loaded yet from its stored source. Versions never
// change once stored, so one loaded before is skipped.
std::expected<std::size_t, EngineError> Engine::load_deployed() {
  std::lock_guard refreshing(refresh_mutex_);
  // Counted before the list: a deploy between the two is loaded now and seen again next time.
  auto count = store_->deployed_versions();
  if (!count) return std::unexpected(EngineError::from(count.error()));
  // The keys of what is stored, then the source of each version not loaded yet: never a
  // count of the cases, nor every source again, at each deploy on every node.
  auto deployed = store_->list_deployed();
  if (!deployed) return std::unexpected(EngineError::from(deployed.error()));
  std::size_t loaded = 0;
  for (const auto& key : *deployed) {
    const bool calendar = key.bundle_id.starts_with(kCalendarDefinitionPrefix);
    {
      std::shared_lock lock(workflows_mutex_);
      const bool known = calendar ? calendar_versions_.contains({key.bundle_id.substr(kCalendarDefinitionPrefix.size()), key.version})
                                  : workflows_.contains({key.bundle_id, key.version});
      if (known) continue;
    }
    auto stored = store_->load_workflow(key.bundle_id, key.version);
    if (!stored) return std::unexpected(EngineError::from(stored.error()));
    if (!*stored) continue;  // listed, so never gone: versions are only added
    const DeployedWorkflow& d = **stored;
    ++loaded;
    if (calendar) {
      auto built = calendar_from_source(d.source);
      if (!built) return std::unexpected(make_error(EngineError::Kind::store, d.bundle_id + " version " + std::to_string(d.version) + ": " + built.error()));
      const std::string name = d.bundle_id.substr(kCalendarDefinitionPrefix.size());
      std::unique_lock lock(workflows_mutex_);
      calendar_versions_[{name, d.version}] = std::make_shared<const WorkCalendar>(std::move(built->first));
      auto& latest = latest_calendar_version_[name];
      latest = std::max(latest, d.version);
      continue;
    }
    boost::system::error_code ec;
    const auto j = json::parse(d.source, ec);
    // Never trust the database: a damaged source is an error, not an exception.
    const auto* files_json = !ec && j.is_object() ? j.as_object().if_contains("files") : nullptr;
    const auto* root_json = !ec && j.is_object() ? j.as_object().if_contains("root") : nullptr;
    if (!files_json || !files_json->is_object() || !root_json || !root_json->is_string()) {
      return std::unexpected(make_error(EngineError::Kind::store, "the stored source of " + d.bundle_id + " v" +
                                                                      std::to_string(d.version) + " is damaged"));
    }
    std::map<std::string, std::string> files;
    for (const auto& [path, text] : files_json->as_object()) {
      if (text.is_string()) files[std::string(path)] = std::string(text.as_string());
    }
    const std::string root(root_json->as_string());
    auto program = dsl::load({root}, [&files](const std::string& path, std::string& error) -> std::optional<std::string> {
      const auto it = files.find(path);
      if (it == files.end()) {
        error = "not in the stored source";
        return std::nullopt;
      }
      return it->second;
    });
    // Through the same checks as a deploy: a stored source that no longer checks (the language
    // grew stricter) is refused here too, never run half-checked.
    const auto compiled = check_and_compile(std::move(program));
    bool found = false;
    for (std::size_t i = 0; compiled && i < compiled->workflows.size(); ++i) {
      const auto& wf = compiled->workflows[i];
      if (wf->bundle_id != d.bundle_id || wf->version != d.version) continue;
      std::unique_lock lock(workflows_mutex_);
      workflows_[{wf->bundle_id, wf->version}] = wf;
      calendars_[{wf->bundle_id, wf->version}] = compiled->calendars[i];
      found = true;
    }
    if (!found) {
      return std::unexpected(make_error(EngineError::Kind::invalid_workflow, "the stored source of " + d.bundle_id + " v" +
                                                                                 std::to_string(d.version) + " no longer compiles"));
    }
  }
  deployed_seen_ = *count;
  return loaded;
}

std::expected<DeployReport, EngineError> Engine::deploy(const std::vector<std::string>& paths) {
  return deploy_program(dsl::load(paths, dsl::filesystem_reader()), true);
}

std::expected<DeployReport, EngineError> Engine::deploy_sources(const std::map<std::string, std::string>& files,
                                                                const std::vector<std::string>& roots) {
  return deploy_program(dsl::load(roots, [&files](const std::string& path, std::string& error) -> std::optional<std::string> {
                          const auto it = files.find(path);
                          if (it == files.end()) {
                            error = "no such file";
                            return std::nullopt;
                          }
                          return it->second;
                        }),
                        true);
}

std::expected<DeployReport, EngineError> Engine::deploy_program(dsl::Program loaded, bool persist) {
  // The same entry point as `onevisit check`: the same diagnostics, calendar warnings included.
  auto compiled = check_and_compile(std::move(loaded), CheckOptions{day_of(now() / 60'000), kCalendarWarningDays});
  if (!compiled) {
    EngineError e = make_error(EngineError::Kind::invalid_workflow, "the workflow files have errors; nothing was deployed");
    e.diagnostics = std::move(compiled.error());
    return std::unexpected(std::move(e));
  }
  const dsl::Program& program = *compiled->program;
  DeployReport report;
  report.warnings = compiled->diagnostics;
  // Refuse before writing anything when a version would change meaning.
  auto existing = store_->list_deployed();
  if (!existing) return std::unexpected(EngineError::from(existing.error()));
  for (const auto& wf : compiled->workflows) {
    if (!compiled->named(*wf)) continue;
    for (const auto& d : *existing) {
      if (d.bundle_id == wf->bundle_id && d.version == wf->version && d.source_hash != wf->source_hash) {
        return std::unexpected(make_error(EngineError::Kind::invalid_workflow,
                                          "bundle '" + wf->bundle_id + "' version " + std::to_string(wf->version) +
                                              " is already deployed with another source; raise its version to deploy the change"));
      }
    }
  }
  std::vector<std::pair<std::shared_ptr<const Workflow>, std::shared_ptr<const WorkCalendar>>> deployed;
  for (std::size_t i = 0; i < compiled->workflows.size(); ++i) {
    const auto& wf = compiled->workflows[i];
    if (!compiled->named(*wf)) continue;  // only bundles of the named files
    bool fresh = true;
    if (persist) {
      auto stored = store_->deploy(DeployedWorkflow{wf->bundle_id, wf->version, wf->source_hash, source_bundle(program, *wf), now(), 0});
      if (!stored) return std::unexpected(EngineError::from(stored.error()));
      fresh = *stored;
    }
    {
      std::unique_lock lock(workflows_mutex_);
      if (fresh || !workflows_.contains({wf->bundle_id, wf->version})) {
        workflows_[{wf->bundle_id, wf->version}] = wf;
        calendars_[{wf->bundle_id, wf->version}] = compiled->calendars[i];
      }
    }
    report.bundles.push_back({wf->bundle_id, wf->version, wf->source_hash, fresh});
    deployed.emplace_back(wf, compiled->calendars[i]);
    spdlog::info("deployed {} v{} ({})", wf->bundle_id, wf->version, fresh ? "new" : "unchanged");
  }
  if (persist) {
    auto calendars = deploy_calendars(program, deployed);
    if (!calendars) return std::unexpected(calendars.error());
    report.calendars = std::move(*calendars);
  }
  return report;
}

std::expected<std::vector<DeployedWorkflow>, EngineError> Engine::workflows() {
  auto list = store_->list_workflows();
  if (!list) return std::unexpected(EngineError::from(list.error()));
  // Calendars are stored beside the bundles; callers ask for bundles.
  std::erase_if(*list, [](const DeployedWorkflow& w) { return w.bundle_id.starts_with(kCalendarDefinitionPrefix); });
  for (auto& w : *list) w.source.clear();  // large; callers ask for models, not text
  return *list;
}

std::shared_ptr<const Workflow> Engine::workflow(const std::string& bundle_id, std::optional<int> version) const {
  std::shared_lock lock(workflows_mutex_);
  if (version) {
    const auto it = workflows_.find({bundle_id, *version});
    return it == workflows_.end() ? nullptr : it->second;
  }
  std::shared_ptr<const Workflow> newest;
  for (const auto& [key, wf] : workflows_) {
    if (key.first == bundle_id) newest = wf;  // ordered by version
  }
  return newest;
}

const WorkCalendar& Engine::calendar_of(const Workflow& wf) const {
  static const WorkCalendar kWeekdays = WorkCalendar::weekdays();
  std::shared_lock lock(workflows_mutex_);
  if (const auto latest = latest_calendar_version_.find(wf.calendar); latest != latest_calendar_version_.end()) {
    return *calendar_versions_.at({wf.calendar, latest->second});
  }
  const auto it = calendars_.find({wf.bundle_id, wf.version});
  return it == calendars_.end() ? kWeekdays : *it->second;
}

const WorkCalendar& Engine::calendar_of(const Workflow& wf, const Case& state) const {
  static const WorkCalendar kWeekdays = WorkCalendar::weekdays();
  std::shared_lock lock(workflows_mutex_);
  if (state.calendar_version > 0) {
    if (const auto it = calendar_versions_.find({wf.calendar, state.calendar_version}); it != calendar_versions_.end()) return *it->second;
  }
  const auto it = calendars_.find({wf.bundle_id, wf.version});
  return it == calendars_.end() ? kWeekdays : *it->second;
}

int Engine::latest_calendar_version(const Workflow& wf) const {
  std::shared_lock lock(workflows_mutex_);
  const auto latest = latest_calendar_version_.find(wf.calendar);
  return latest == latest_calendar_version_.end() ? 0 : latest->second;
}

std::expected<std::vector<DeployReport::CalendarEntry>, EngineError> Engine::deploy_calendars(
    const dsl::Program& program, const std::vector<std::pair<std::shared_ptr<const Workflow>, std::shared_ptr<const WorkCalendar>>>& deployed) {
  std::vector<DeployReport::CalendarEntry> entries;
  std::map<std::string, std::shared_ptr<const WorkCalendar>> named;
  for (const auto& [wf, calendar] : deployed) {
    if (!wf->calendar.empty()) named.emplace(wf->calendar, calendar);
  }
  for (const auto& [name, compiled_calendar] : named) {
    auto definition = calendar_definition(program, name);
    if (!definition) return std::unexpected(make_error(EngineError::Kind::invalid_workflow, definition.error()));
    // What a restart will load is built from the stored definition: it must build now.
    if (auto reloaded = calendar_from_source(definition->source); !reloaded) {
      return std::unexpected(make_error(EngineError::Kind::invalid_workflow, reloaded.error()));
    }
    // The latest stored version of this calendar (another node may have deployed since).
    auto stored = store_->list_deployed();
    if (!stored) return std::unexpected(EngineError::from(stored.error()));
    const std::string key = std::string(kCalendarDefinitionPrefix) + name;
    const DeployedWorkflow* latest = nullptr;
    for (const auto& d : *stored) {
      if (d.bundle_id == key && (!latest || d.version > latest->version)) latest = &d;
    }
    DeployReport::CalendarEntry entry{name, latest ? latest->version : 1, false, 0};
    if (!latest || latest->source_hash != definition->hash) {
      entry.version = latest ? latest->version + 1 : 1;
      auto written = store_->deploy(DeployedWorkflow{key, entry.version, definition->hash, definition->source, now(), 0});
      if (!written) return std::unexpected(EngineError::from(written.error()));
      entry.new_version = true;
      spdlog::info("calendar {} version {} deployed ({})", name, entry.version, definition->title);
    }
    const auto& calendar = compiled_calendar;
    {
      std::unique_lock lock(workflows_mutex_);
      if (!calendar_versions_.contains({name, entry.version})) calendar_versions_[{name, entry.version}] = calendar;
      auto& latest_known = latest_calendar_version_[name];
      latest_known = std::max(latest_known, entry.version);
    }
    // Every running case on an older version of this calendar recounts on the latest: an
    // AdoptCalendar command each, recorded in its history. Done on every deploy, not only when
    // a version is new: a deploy cut off half-way is finished by the next one (a case that
    // adopted the version already recognises the command id and applies nothing).
    std::set<std::string> bundles;
    {
      std::shared_lock lock(workflows_mutex_);
      for (const auto& [id, wf] : workflows_) {
        if (wf->calendar == name) bundles.insert(id.first);
      }
    }
    // The cases first, then the commands: adopting changes no status, but cases closing
    // meanwhile would shift the pages of a listing interleaved with the commands.
    std::vector<std::string> running;
    for (const auto& bundle : bundles) {
      for (std::size_t offset = 0;; offset += 500) {
        CaseQuery query;
        query.bundle_id = bundle;
        query.status = std::string(to_string(CaseStatus::running));
        query.limit = 500;
        query.offset = offset;
        auto page = store_->list_cases(query);
        if (!page) return std::unexpected(EngineError::from(page.error()));
        for (const auto& summary : *page) running.push_back(summary.case_id);
        if (page->size() < query.limit) break;
      }
    }
    CommandOptions options;
    options.actor = "system";
    options.role = "system";
    options.command_id = key + ":" + std::to_string(entry.version);
    for (const auto& case_id : running) {
      auto adopted = execute(case_id, AdoptCalendar{entry.version, calendar, definition->title}, options);
      if (adopted) {
        if (!adopted->events.empty() && !adopted->duplicate) ++entry.cases_recounted;
        continue;
      }
      // A case on this version already, or closed meanwhile, keeps its calendar; anything else
      // is an error.
      const auto& rejection = adopted.error().rejection;
      if (!rejection || (rejection->reason != "calendar_current" && rejection->reason != "case_closed")) {
        return std::unexpected(adopted.error());
      }
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

void Engine::warn_if_provisional(const WorkCalendar& calendar, const std::string& case_id, const std::vector<ItemRow>& rows) {
  for (const auto& row : rows) {
    if (row.due_at == 0 || !calendar.provisional(day_of(row.due_at / 60'000))) continue;
    {
      std::lock_guard lock(provisional_mutex_);
      if (!provisional_calendars_warned_.insert(calendar.name()).second) return;
    }
    spdlog::warn("calendar '{}' declares holidays only up to {}: the deadline {} of case {} (item {}) is counted Monday to Friday "
                 "and provisional; deploy the next year's calendar from the State Council's notice (said once per calendar)",
                 calendar.name(), dsl::to_string(dsl::Value::of_date(*calendar.declared_until())),
                 dsl::to_string(dsl::Value::of_date(day_of(row.due_at / 60'000))), dsl::mask_personal_numbers(case_id), row.item_id);
    return;
  }
}

std::mutex& Engine::case_lock(const std::string& case_id) {
  return case_locks_[std::hash<std::string>{}(case_id) % case_locks_.size()];
}

std::expected<std::optional<Case>, EngineError> Engine::load(const std::string& case_id, std::shared_ptr<const Workflow>& wf) {
  auto loaded = load_shared(case_id, wf);
  if (!loaded) return std::unexpected(loaded.error());
  if (!*loaded) return std::optional<Case>{};
  return std::optional<Case>{**loaded};
}

namespace {

// Whether other processes may move this store's cases: a PostgreSQL database that several
// nodes share. Then a case is read from the store for every command and every view, never
// from this engine's cache: a state cached here may be behind another node's commit, and a
// command decided on it could be refused for a state the case has left (docs/runtime.md).
bool shared_by_other_nodes(const Store& store) { return postgres_store_stats(store).has_value(); }

}  // namespace

std::expected<std::shared_ptr<const Case>, EngineError> Engine::load_shared(const std::string& case_id,
                                                                          std::shared_ptr<const Workflow>& wf) {
  const bool cached = !shared_by_other_nodes(*store_);
  if (cached) {
    std::shared_lock lock(cache_mutex_);
    if (auto it = cache_.find(case_id); it != cache_.end()) {
      wf = workflow(it->second->bundle_id, it->second->bundle_version);
      return it->second;
    }
  }
  auto stored = store_->load_case(case_id);
  if (!stored) return std::unexpected(EngineError::from(stored.error()));
  if (!*stored) return std::shared_ptr<const Case>{};
  const auto& summary = (*stored)->summary;
  wf = workflow(summary.bundle_id, summary.bundle_version);
  if (!wf) {
    // Another node may have deployed the version moments ago, before this one's next look.
    if (auto refreshed = refresh_deployed(); !refreshed) return std::unexpected(refreshed.error());
    wf = workflow(summary.bundle_id, summary.bundle_version);
  }
  if (!wf) {
    return std::unexpected(make_error(EngineError::Kind::store, "case " + case_id + " runs on " + summary.bundle_id + " v" +
                                                                    std::to_string(summary.bundle_version) + ", which is not deployed"));
  }
  auto decoded = restore(**stored, *wf);
  if (!decoded) return std::unexpected(make_error(EngineError::Kind::store, "case " + case_id + ": " + decoded.error()));
  // Another node's deploy may have moved the case onto a calendar version this node has not
  // loaded yet: load it now, for counting on an older calendar would store wrong deadlines.
  const auto calendar_known = [&] {
    std::shared_lock lock(workflows_mutex_);
    return calendar_versions_.contains({wf->calendar, decoded->calendar_version});
  };
  if (decoded->calendar_version > 0 && !calendar_known()) {
    if (auto refreshed = refresh_deployed(); !refreshed) return std::unexpected(refreshed.error());
    if (!calendar_known()) {
      return std::unexpected(make_error(EngineError::Kind::store, "case " + case_id + " counts on calendar " + wf->calendar +
                                                                      " version " + std::to_string(decoded->calendar_version) +
                                                                      ", which is not deployed"));
    }
  }
  auto shared = std::make_shared<const Case>(std::move(*decoded));
  if (cached) {
    std::unique_lock lock(cache_mutex_);
    cache_[case_id] = shared;
  }
  return shared;
}

std::expected<CommandResult, EngineError> Engine::start_case(const std::string& bundle_id, const std::map<std::string, dsl::Value>& form,
                                                             const std::string& applicant, const CommandOptions& options,
                                                             std::string case_id) {
  // A case id shows in lists, URLs, the audit trail and every log line about the case: one
  // chosen by the client must not be a phone, ID or credit-code number (issue 17).
  if (const auto found = dsl::find_personal_numbers(case_id, dsl::PersonalNumberScan::identifier);
      !found.empty()) {
    // Read at the window and in the CLI: Chinese, with the machine-readable reason kept.
    return std::unexpected(make_error(
        EngineError::Kind::invalid,
        "办件编号“" + dsl::mask_personal_numbers(case_id, dsl::PersonalNumberScan::identifier) + "”含有个人信息（" +
            std::string(dsl::title_of(found.front().kind)) +
            "），不能用作办件编号：请换一个编号，或不填由系统生成（personal_case_id）"));
  }
  Command command{options.command_id, case_id, options.actor, options.role, StartCase{form, applicant, options.channel}};
  auto started_on = workflow(bundle_id);
  if (!started_on) {
    // Another node may have deployed the bundle moments ago, before this one's next look.
    if (auto refreshed = refresh_deployed(); !refreshed) return std::unexpected(refreshed.error());
    started_on = workflow(bundle_id);
  }
  if (started_on) std::get<StartCase>(command.body).calendar_version = latest_calendar_version(*started_on);
  if (!started_on) {
    std::vector<std::string> names;
    {
      std::shared_lock lock(workflows_mutex_);
      for (const auto& [key, wf] : workflows_) names.push_back(key.first);
    }
    std::vector<std::string_view> views(names.begin(), names.end());
    // For people: Chinese, the bundle's title for a guess (its id for programs in brackets).
    std::string message = "没有部署“" + dsl::truncate_utf8(dsl::mask_personal_numbers(bundle_id), 64) + "”这一件事";
    if (auto guess = dsl::closest_name(bundle_id, views); !guess.empty()) {
      message += "，是否指「" + workflow(guess)->title + "」（" + guess + "）？";
    } else {
      message += "，请从已部署的一件事中选择。";
    }
    return std::unexpected(make_error(EngineError::Kind::not_found, message));
  }
  return run(case_id, command, bundle_id);
}

std::expected<CommandResult, EngineError> Engine::execute(const std::string& case_id, CommandBody body, const CommandOptions& options) {
  if (std::holds_alternative<StartCase>(body)) return std::unexpected(make_error(EngineError::Kind::invalid, "use start_case to start a case"));
  Command command{options.command_id, case_id, options.actor, options.role, std::move(body), options.department};
  return run(case_id, command, std::nullopt);
}

std::expected<CaseNumber, EngineError> Engine::take_case_number(std::int32_t day, bool reread) {
  std::lock_guard lock(numbers_mutex_);
  auto& returned = returned_numbers_[day];
  if (!reread && !returned.empty()) {
    const auto lowest = std::min_element(returned.begin(), returned.end());
    const CaseNumber number{day, *lowest};
    returned.erase(lowest);
    return number;
  }
  auto last = last_number_.find(day);
  if (last == last_number_.end() || reread) {
    // First number of the day in this process, or another process took ours: go on from
    // what the store holds (numbers in flight here stay above it).
    auto stored = store_->last_case_number(day);
    if (!stored) return std::unexpected(EngineError::from(stored.error()));
    const std::uint64_t mine = last == last_number_.end() ? 0 : last->second;
    last = last_number_.insert_or_assign(day, std::max(*stored, mine)).first;
    if (reread) returned.clear();  // another process may have taken them
  }
  return CaseNumber{day, ++last->second};
}

void Engine::return_case_number(const CaseNumber& number) {
  std::lock_guard lock(numbers_mutex_);
  auto& last = last_number_[number.day];
  if (last == number.sequence) {
    --last;
  } else {
    returned_numbers_[number.day].push_back(number.sequence);
  }
}

std::expected<CommandResult, EngineError> Engine::run(const std::string& given_id, const Command& given_command,
                                                      const std::optional<std::string>& new_bundle) {
  const bool new_case = new_bundle.has_value();
  // A generated case number is taken only once the start is decided, so a refused start takes
  // none; until then the case has no id, and nobody else can name it, so no case lock.
  const bool numbered = new_case && given_id.empty();
  std::optional<Command> numbered_command;
  if (numbered) numbered_command = given_command;
  const Command& command = numbered ? *numbered_command : given_command;
  std::string case_id = given_id;
  std::unique_lock<std::mutex> case_guard;
  if (!numbered) case_guard = std::unique_lock(case_lock(case_id));
  std::optional<CaseNumber> number;
  bool reread_numbers = false;
  // Gives the number back when the start did not commit after all.
  const auto release_number = [&] {
    if (!number) return;
    return_case_number(*number);
    number.reset();
    case_id.clear();
    numbered_command->case_id.clear();
  };
  for (int attempt = 0; attempt < 5; ++attempt) {
    // A command seen before returns its first result. Looked for under the case's lock and
    // again after every conflict, right before deciding: the store recognises a retry only
    // when the case moved on since it was decided (docs/storage.md, Idempotency), and a
    // conflict may mean another attempt of this very command landed. (A command without an
    // id cannot be retried by anyone: the store keeps no record of it.)
    if (!command.command_id.empty()) {
      auto seen = store_->find_command(case_id, command.command_id);
      if (!seen) return std::unexpected(EngineError::from(seen.error()));
      if (*seen) return result_from_json((*seen)->result, true);
    }
    std::shared_ptr<const Workflow> wf;
    // A new case is not looked for on the first attempt (a read of the store per start): if
    // the id is taken after all, the commit (expected version 0) is refused as a conflict and
    // the next attempt loads the case and rejects the command.
    auto loaded = new_case && (attempt == 0 || numbered) ? std::expected<std::shared_ptr<const Case>, EngineError>{nullptr}
                                                         : load_shared(case_id, wf);
    if (!loaded) return std::unexpected(loaded.error());
    // Decided on the cached state itself (shared, never changed): copied once, into `next`.
    const std::shared_ptr<const Case> current = std::move(*loaded);
    Case started;  // the empty case a start is decided on
    if (!current) {
      if (!new_case) return std::unexpected(no_case(case_id));
      started.id = case_id;
      wf = workflow(*new_bundle);
    }
    const Case& state = current ? *current : started;
    if (new_case && state.version > 0) {
      EngineError e = make_error(EngineError::Kind::rejected, "case '" + case_id + "' exists already");
      e.rejection = Rejection{Rejection::Code::wrong_state, "办件编号" + case_id + "已被使用，请换一个编号，或不填由系统生成。", {},
                              "Expected a new case, but case '" + case_id + "' exists", "case_exists", {}};
      e.message = e.rejection->message;
      return std::unexpected(std::move(e));
    }
    if (!wf) return std::unexpected(make_error(EngineError::Kind::not_found, "the case's workflow is not deployed"));
    // A new case counts on the latest calendar version (its StartCase says which); a case on
    // the version it adopted.
    const WorkCalendar& calendar = current ? calendar_of(*wf, state) : calendar_of(*wf);
    const Timestamp at = now();
    auto outcome = decide(DecideContext{*wf, calendar, at}, state, command);
    if (auto* rejection = std::get_if<Rejection>(&outcome)) {
      EngineError e = make_error(EngineError::Kind::rejected, rejection->message);
      e.rejection = std::move(*rejection);
      return std::unexpected(std::move(e));
    }
    auto& events = std::get<std::vector<Event>>(outcome);
    if (numbered) {
      // Decided: now the start takes its number (a StartCase's events do not name the case).
      auto taken = take_case_number(static_cast<std::int32_t>(civil_day_number(at)), reread_numbers);
      if (!taken) return std::unexpected(taken.error());
      number = *taken;
      reread_numbers = false;
      case_id = case_number_id(*number);
      started.id = case_id;  // a numbered start is always new: `state` is `started`
      numbered_command->case_id = case_id;
    }
    const bool timer_command = std::holds_alternative<TimerFired>(command.body);
    if (events.empty() && !timer_command) return CommandResult{case_id, state.version, {}, false};

    Case next = state;
    CommitRequest request;
    request.command_id = command.command_id;
    request.case_id = case_id;
    request.expected_version = state.version;
    CommandResult result{case_id, state.version + events.size(), {}, false};
    request.events.reserve(events.size());
    result.events.reserve(events.size());
    for (std::size_t i = 0; i < events.size(); ++i) {
      apply(*wf, next, events[i]);
      request.events.push_back(StoredEvent{state.version + i + 1, std::string(event_type(events[i].body)),
                                           codec::encode_event_payload(events[i]), events[i].at});
      result.events.emplace_back(event_type(events[i].body));
    }
    if (store_->wants_snapshots() && next.version / kSnapshotEvery > state.version / kSnapshotEvery) {
      request.snapshot = codec::encode_case(next);
    }
    request.summary = CaseSummary{case_id, next.bundle_id, next.bundle_version, std::string(to_string(next.status)),
                                  next.applicant_masked, next.started_at, next.updated_at, next.version, next.channel};
    // Only what changed: the store holds the item rows and timers of `state` (both are pure
    // functions of the case), so an unchanged row or timer need not be written again.
    const WorkCalendar& next_calendar = next.calendar_version == state.calendar_version ? calendar : calendar_of(*wf, next);
    add_changed_effects(*wf, calendar, next_calendar, state, next, timer_command ? &std::get<TimerFired>(command.body).timer_id : nullptr,
                        request);
    warn_if_provisional(next_calendar, case_id, request.items);
    request.outbox = outbox_for(*wf, next, events, state.version + 1);
    // The search index follows the case's names and numbers: set at its start, emptied by
    // erasure (no other event changes the form).
    const bool names_changed = std::any_of(events.begin(), events.end(), [](const Event& e) {
      return std::holds_alternative<CaseStarted>(e.body) || std::holds_alternative<PersonalDataErased>(e.body);
    });
    if (names_changed) {
      const auto before = state.version > 0 ? search_tokens(*wf, state) : std::vector<std::string>{};
      const auto after = search_tokens(*wf, next);
      std::set_difference(after.begin(), after.end(), before.begin(), before.end(), std::back_inserter(request.add_search_tokens));
      std::set_difference(before.begin(), before.end(), after.begin(), after.end(), std::back_inserter(request.remove_search_tokens));
    }
    if (command.role != "system") request.actor = command.actor;
    request.result = result_json(result);
    request.case_number = number;
    if (std::holds_alternative<ErasePersonalData>(command.body)) {
      if (auto rewritten = rewrite_for_erasure(*store_, *wf, state, next, request); !rewritten) return std::unexpected(rewritten.error());
      request.summary.applicant = next.applicant_masked;
    }
    auto committed = store_->commit(request);
    if (numbered && (!committed || committed->duplicate)) {
      // Not committed (or this very start committed before, under the number it took then).
      // A conflict on a generated id: another process numbers this day too; read on from the store.
      reread_numbers = !committed && committed.error().kind == StoreError::Kind::version_conflict;
      release_number();
      if (reread_numbers) continue;
    }
    if (!committed) {
      if (committed.error().kind == StoreError::Kind::version_conflict) {
        std::unique_lock lock(cache_mutex_);
        cache_.erase(case_id);  // someone else moved the case: decide again on fresh state
        continue;
      }
      return std::unexpected(EngineError::from(committed.error()));
    }
    if (committed->duplicate) return result_from_json(committed->result, true);
    if (new_case && spdlog::should_log(spdlog::level::info)) {
      // Never log an ID or phone number in full: the applicant is already masked; case ids
      // from before they were checked and user names may hold one.
      spdlog::info("case {} started on {} v{} for {} by {}", dsl::mask_personal_numbers(case_id),
                   next.bundle_id, next.bundle_version, next.applicant_masked,
                   dsl::mask_personal_numbers(command.actor));
    }
    if (!shared_by_other_nodes(*store_)) {
      std::unique_lock lock(cache_mutex_);
      // Keep running cases in memory; finished ones are read back from the store when asked.
      if (next.status == CaseStatus::running || next.status == CaseStatus::completed || next.status == CaseStatus::delivered) {
        cache_[case_id] = std::make_shared<const Case>(std::move(next));
      } else {
        cache_.erase(case_id);
      }
    }
    std::vector<Listener> listeners;
    {
      std::lock_guard lock(listeners_mutex_);
      listeners.reserve(listeners_.size());
      for (const auto& [id, l] : listeners_) listeners.push_back(l);
    }
    for (const auto& l : listeners) {
      for (const auto& e : events) l(case_id, e);
    }
    return result;
  }
  return std::unexpected(make_error(EngineError::Kind::store, "case '" + case_id + "' kept changing under this command; try again"));
}

std::expected<CaseView, EngineError> Engine::get_case(const std::string& case_id) {
  std::shared_ptr<const Workflow> wf;
  auto loaded = load(case_id, wf);
  if (!loaded) return std::unexpected(loaded.error());
  if (!*loaded) return std::unexpected(no_case(case_id));
  CaseView view{std::move(**loaded), wf, {}, {}, {}};
  const auto& calendar = calendar_of(*wf, view.state);
  view.items = item_rows(*wf, calendar, view.state);
  view.calendar_declared_until = calendar.declared_until();
  const Timestamp at = now();
  const std::int64_t per_day = std::max<std::int64_t>(1, calendar.working_minutes_per_day());
  for (ItemIndex i = 0; i < view.state.items.size(); ++i) {
    const auto& item = view.state.items[i];
    for (std::size_t r = 0; r < item.specials.size(); ++r) {
      const auto& run = item.specials[r];
      SpecialProcedureView v;
      v.item = i;
      v.procedure = run.procedure;
      v.run = r;
      v.running = item.running_special == r;
      v.minutes_used = special_minutes(calendar, run, at);
      v.workdays_used = dsl::Decimal{v.minutes_used * 100 / per_day * (dsl::Decimal::kScale / 100)};
      v.due_at = special_due_at(*wf, calendar, i, run);
      v.light = run.light;
      view.specials.push_back(v);
    }
  }
  return view;
}

std::expected<std::vector<HistoryEntry>, EngineError> Engine::history(const std::string& case_id) {
  auto events = store_->load_events(case_id);
  if (!events) return std::unexpected(EngineError::from(events.error()));
  if (events->empty()) return std::unexpected(no_case(case_id));
  std::vector<HistoryEntry> out;
  for (auto& e : *events) out.push_back(HistoryEntry{e.sequence, std::move(e.type), std::move(e.payload), e.recorded_at});
  return out;
}

std::vector<MaterialIndex> Engine::situation_materials(const Workflow& wf, const std::map<std::string, std::string>& answers) const {
  // A preview case: the answers given so far and the defaults.
  Case preview;
  preview.slots.assign(wf.scope().slot_count(), dsl::Value{});
  for (const auto& f : wf.fields) {
    if (f.default_value) preview.slots[f.slot] = *f.default_value;
    if (const auto it = answers.find(f.name); it != answers.end() && !it->second.empty()) {
      if (auto value = parse_field_value(wf, f.name, it->second)) preview.slots[f.slot] = std::move(*value);
    }
  }
  const auto& calendar = calendar_of(wf);
  const dsl::Environment environment{preview.slots, day_of(now() / 60'000), &calendar};
  std::vector<bool> needed(wf.materials.size(), false);
  for (const auto& item : wf.items) {
    if (item.when && !item.when->holds(environment)) continue;
    for (const auto m : item.needs) needed[m] = true;
  }
  std::vector<MaterialIndex> out;
  for (MaterialIndex m = 0; m < wf.materials.size(); ++m) {
    // What an item of the bundle issues is not the applicant's to bring.
    if (needed[m] && !wf.materials[m].producer && material_applies(wf, preview, m)) out.push_back(m);
  }
  return out;
}

std::expected<std::vector<OutboxRecord>, EngineError> Engine::calls(const std::string& case_id, const std::string& status,
                                                                     std::size_t limit) {
  auto r = store_->list_outbox(case_id, status, limit);
  if (!r) return std::unexpected(EngineError::from(r.error()));
  return *r;
}

namespace {
// A call settled by hand: found among the case's, parked, changed by `settle`, stored.
template <typename Settle>
std::expected<OutboxRecord, EngineError> settle_parked_call(Store& store, const std::string& case_id, std::uint64_t call_id,
                                                            Settle settle) {
  // A case has few calls; the whole list keeps the store interface as it is.
  auto calls = store.list_outbox(case_id, "", 100'000);
  if (!calls) return std::unexpected(EngineError::from(calls.error()));
  const auto it = std::find_if(calls->begin(), calls->end(), [&](const OutboxRecord& r) { return r.id == call_id; });
  if (case_id.empty() || it == calls->end()) {
    return std::unexpected(make_error(EngineError::Kind::not_found, "case '" + case_id + "' has no call " + std::to_string(call_id)));
  }
  if (it->status != "parked") {
    EngineError e = make_error(EngineError::Kind::rejected, "Expected call " + std::to_string(call_id) + " to be parked, but it is " + it->status);
    e.rejection = Rejection{Rejection::Code::wrong_state, e.message, {}};
    return std::unexpected(std::move(e));
  }
  OutboxRecord call = *it;
  settle(call);
  if (auto done = store.update_outbox(call); !done) return std::unexpected(EngineError::from(done.error()));
  return call;
}
}  // namespace

std::expected<OutboxRecord, EngineError> Engine::retry_call(const std::string& case_id, std::uint64_t call_id) {
  const Timestamp now = clock_->now();
  return settle_parked_call(*store_, case_id, call_id, [&](OutboxRecord& call) {
    call.status = "pending";
    call.attempts = 0;
    call.next_attempt_at = now;
    call.last_error = "retried by hand after: " + call.last_error;
  });
}

std::expected<OutboxRecord, EngineError> Engine::resolve_call(const std::string& case_id, std::uint64_t call_id, const std::string& note) {
  if (note.empty()) return std::unexpected(make_error(EngineError::Kind::invalid, "resolving a call by hand needs a note saying how"));
  return settle_parked_call(*store_, case_id, call_id, [&](OutboxRecord& call) {
    call.status = "delivered";
    call.last_error = "resolved by hand: " + note;
  });
}

std::expected<std::vector<TimerRecord>, EngineError> Engine::due_timers(Timestamp before, std::size_t limit) {
  auto r = store_->due_timers(before, limit);
  if (!r) return std::unexpected(EngineError::from(r.error()));
  return *r;
}

std::expected<std::vector<RecordedEvent>, EngineError> Engine::events(const std::string& case_id) {
  auto stored = store_->load_events(case_id);
  if (!stored) return std::unexpected(EngineError::from(stored.error()));
  if (stored->empty()) return std::unexpected(make_error(EngineError::Kind::not_found, "no case '" + case_id + "'"));
  std::vector<RecordedEvent> out;
  out.reserve(stored->size());
  for (auto& e : *stored) {
    auto decoded = codec::decode_event(e.type, e.payload, e.recorded_at);
    if (!decoded) {
      return std::unexpected(make_error(EngineError::Kind::store, "case '" + case_id + "': event " + std::to_string(e.sequence) +
                                                                    " is damaged: " + decoded.error()));
    }
    out.push_back(RecordedEvent{e.sequence, std::move(e.type), std::move(*decoded)});
  }
  return out;
}

std::expected<std::vector<CaseSummary>, EngineError> Engine::list_cases(const CaseQuery& query) {
  auto r = store_->list_cases(query);
  if (!r) return std::unexpected(EngineError::from(r.error()));
  return *r;
}

std::expected<std::uint64_t, EngineError> Engine::count_cases(const CaseQuery& query) {
  auto n = store_->count_cases(query);
  if (!n) return std::unexpected(EngineError::from(n.error()));
  return *n;
}

std::expected<std::uint64_t, EngineError> Engine::count_worklist(const CaseQuery& query) {
  auto n = store_->count_worklist(query);
  if (!n) return std::unexpected(EngineError::from(n.error()));
  return *n;
}

std::expected<std::vector<WorklistEntry>, EngineError> Engine::worklist(const CaseQuery& query) {
  auto r = store_->worklist(query);
  if (!r) return std::unexpected(EngineError::from(r.error()));
  return *r;
}

std::expected<std::size_t, EngineError> Engine::fire_due_timers(std::size_t limit) {
  // Claimed for a minute where several nodes share the store (claim_due_timers): each
  // timer is fired by one of them, and by another when that one dies.
  auto due = store_->claim_due_timers(now(), limit, std::chrono::minutes(1));
  if (!due) return std::unexpected(EngineError::from(due.error()));
  std::size_t fired = 0;
  for (const auto& t : *due) {
    // One command id per timer and due time: a timer fires once even if two schedulers run.
    CommandOptions options{"timer/" + t.case_id + "/" + t.timer_id + "/" + std::to_string(t.due_at), "scheduler", "system"};
    auto r = execute(t.case_id, TimerFired{t.timer_id}, options);
    if (!r && r.error().kind != EngineError::Kind::rejected) return std::unexpected(r.error());
    ++fired;
  }
  return fired;
}

std::expected<std::vector<std::string>, EngineError> Engine::apply_retention(const CommandOptions& options) {
  std::vector<std::string> erased;
  const Timestamp at = now();
  for (const auto status : {CaseStatus::completed, CaseStatus::withdrawn, CaseStatus::delivered, CaseStatus::rated}) {
    CaseQuery query;
    query.status = std::string(to_string(status));
    query.limit = 500;
    for (;; query.offset += query.limit) {
      auto page = store_->list_cases(query);
      if (!page) return std::unexpected(EngineError::from(page.error()));
      for (const auto& summary : *page) {
        const auto wf = workflow(summary.bundle_id, summary.bundle_version);
        if (!wf || !wf->retention) continue;
        // The summary says enough to skip the cases whose retention runs on, without loading them.
        Case closed;
        closed.version = summary.version;
        closed.status = status;
        closed.updated_at = summary.updated_at;
        if (const auto ends = retention_ends(*wf, closed); !ends || at < *ends) continue;
        auto done = execute(summary.case_id, ErasePersonalData{}, {"", options.actor, options.role});
        if (!done) {
          if (done.error().kind == EngineError::Kind::rejected) continue;  // erased already, or changed meanwhile
          return std::unexpected(done.error());
        }
        spdlog::info("retention: erased the personal data of case {} ({} v{}: {})", summary.case_id, summary.bundle_id,
                     summary.bundle_version, wf->retention->text);
        erased.push_back(summary.case_id);
      }
      if (page->size() < query.limit) break;
    }
  }
  return erased;
}

std::size_t Engine::subscribe(Listener listener) {
  std::lock_guard lock(listeners_mutex_);
  listeners_[next_listener_] = std::move(listener);
  return next_listener_++;
}

void Engine::unsubscribe(std::size_t id) {
  std::lock_guard lock(listeners_mutex_);
  listeners_.erase(id);
}

}  // namespace onevisit::engine
