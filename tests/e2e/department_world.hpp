// A bundle's world for end-to-end tests: the real engine (in memory, on a virtual clock), the
// real delivery (dispatcher, http and xml-exchange adapters, receipts, the e-license library
// and the SMS gateway) and the department-system simulator playing every department.
//
// Departments are split between the two kinds of connection: every other department system
// speaks HTTP, the rest go through exchange folders (前置机), so every bundle crosses both.
#pragma once

#include "../test_support.hpp"
#include "deptsim/simulator.hpp"

#include <onevisit/adapters/delivery.hpp>
#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/simulate.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>
#include <thread>

namespace onevisit::testing {

namespace fs = std::filesystem;
using namespace onevisit::engine;

constexpr Timestamp kMinuteMs = 60'000;

/// Midnight (local) of a civil date, as a Timestamp.
inline Timestamp date_at(int year, unsigned month, unsigned day, int hour = 0, int minute = 0) {
  using namespace std::chrono;
  const auto days = sys_days{std::chrono::year{year} / month / day}.time_since_epoch().count();
  return (static_cast<Timestamp>(days) * 24 * 60 + hour * 60 + minute) * kMinuteMs;
}

class DepartmentWorld {
 public:
  /// Deploys `flow_file` (relative to the source tree) and starts the simulator. `start` is
  /// the virtual time of intake.
  DepartmentWorld(const std::string& flow_file, const std::string& bundle_id, Timestamp start,
                  const deptsim::Behaviour& behaviour = {}, std::vector<std::string> missing_licenses = {})
      : clock_(start), bundle_id_(bundle_id), behaviour_(behaviour) {
    std::string pattern = (fs::temp_directory_path() / "onevisit-e2e-XXXXXX").string();
    REQUIRE(::mkdtemp(pattern.data()) != nullptr);
    root_ = pattern;
    // The world keeps the store: the delivery's dispatcher drains its outbox, tests look into it.
    auto opened = Engine::open({.database = ":memory:", .clock = &clock_, .store = store_});
    REQUIRE(opened);
    engine_ = std::move(*opened);
    auto deployed = engine_->deploy({std::string(ONEVISIT_SOURCE_DIR) + "/" + flow_file});
    if (!deployed) {
      for (const auto& d : deployed.error().diagnostics) UNSCOPED_INFO(d.diagnostic.message);
    }
    REQUIRE(deployed);
    workflow_ = engine_->workflow(bundle_id);
    REQUIRE(workflow_);

    deptsim::Options options;
    options.behaviours["*"] = behaviour;
    options.missing_licenses = std::move(missing_licenses);
    options.exchange_poll = std::chrono::milliseconds(2);
    std::set<std::string> systems;
    for (const auto& d : workflow_->departments) {
      if (!d.adapter.empty()) systems.insert(d.adapter);
    }
    bool http = true;
    for (const auto& system : systems) {
      (http ? http_systems_ : exchange_systems_).insert(system);
      if (!http) options.exchanges[system] = root_ / system;
      http = !http;
    }
    auto started = deptsim::Simulator::start(options);
    REQUIRE(started);
    simulator_ = std::move(*started);

    std::ostringstream toml;
    for (const auto& s : http_systems_) toml << "[systems." << s << "]\nkind = \"http\"\nurl = \"" << simulator_->url() << "/dept/" << s << "\"\ntimeout_ms = 400\n";
    for (const auto& s : exchange_systems_) toml << "[systems." << s << "]\nkind = \"xml-exchange\"\nfolder = \"" << (root_ / s).string() << "\"\n";
    toml << "[systems.notify]\nkind = \"sms\"\nurl = \"" << simulator_->url() << "/sms\"\nsign = \"政务服务中心\"\n";
    toml << "[elicense]\nurl = \"" << simulator_->url() << "/elicense\"\n";
    toml << "[dispatch]\nmax_attempts = 25\nfirst_backoff_ms = 60000\nmax_backoff_ms = 600000\nworkers = 4\nbreaker_threshold = 3\nbreaker_cooldown_ms = 300000\n";
    auto config = adapters::parse_adapter_config(toml.str(), "e2e.toml");
    REQUIRE(config);
    config_ = std::make_unique<adapters::AdapterConfig>(std::move(*config));
    delivery_ = std::make_unique<adapters::Delivery>(*engine_, *store_, *config_);
  }

  ~DepartmentWorld() {
    delivery_.reset();
    simulator_->stop();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  Engine& engine() { return *engine_; }
  /// The store the engine keeps its cases in.
  engine::Store& store() { return *store_; }
  VirtualClock& clock() { return clock_; }
  deptsim::Simulator& simulator() { return *simulator_; }
  const Workflow& workflow() const { return *workflow_; }
  const WorkCalendar& calendar() const { return engine_->calendar_of(*workflow_); }
  adapters::Delivery& delivery() { return *delivery_; }
  const fs::path& root() const { return root_; }
  bool over_http(const std::string& system) const { return http_systems_.contains(system); }

  /// Takes every department system down (or back up). While down, their exchange requests
  /// stay unanswered, and settle() does not wait for them.
  void set_departments_down(bool down) {
    departments_down_ = down;
    for (const auto& system : http_systems_) set_down(system, down);
    for (const auto& system : exchange_systems_) set_down(system, down);
  }

  /// Starts a case with a synthetic form (plus `answers`), fetches its e-licenses.
  std::string start_case(std::uint64_t seed, const std::map<std::string, dsl::Value>& answers = {}) {
    auto synthetic = synthetic_form(*workflow_, clock_.now(), seed);
    REQUIRE(synthetic);
    auto form = std::move(*synthetic);
    for (const auto& [k, v] : answers) form[k] = v;
    std::string applicant;
    for (const auto& f : workflow_->fields) {
      if (f.value_type.base == dsl::BaseType::idcard && form.contains(f.name)) applicant = form.at(f.name).text;
    }
    auto started = engine_->start_case(bundle_id_, form, applicant, {.command_id = "", .actor = "window-1", .role = "clerk"});
    if (!started) {
      UNSCOPED_INFO(started.error().message);
      if (started.error().rejection) {
        for (const auto& f : started.error().rejection->field_errors) UNSCOPED_INFO(f.field + ": " + f.message);
      }
    }
    REQUIRE(started);
    auto fetched = adapters::fetch_elicenses(*engine_, started->case_id, *config_->elicense,
                                             {.command_id = "elicense-" + started->case_id, .actor = "window-1", .role = "clerk"});
    REQUIRE(fetched);
    return started->case_id;
  }

  /// Delivers until nothing is pending and every answer has come back and been applied.
  void settle() {
    for (int round = 0; round < 2000; ++round) {
      auto delivered = delivery_->run_once();
      REQUIRE(delivered);
      auto pending = engine_->calls("", "pending", 1'000'000);
      REQUIRE(pending);
      bool due = false;
      for (const auto& p : *pending) due = due || p.next_attempt_at <= clock_.now();
      if (!due && exchanges_idle()) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    FAIL("delivery did not settle");
  }

  CaseView view(const std::string& id) {
    auto v = engine_->get_case(id);
    REQUIRE(v);
    return std::move(*v);
  }

  ItemIndex item_index(const std::string& id) const {
    for (ItemIndex i = 0; i < workflow_->items.size(); ++i) {
      if (workflow_->items[i].id == id) return i;
    }
    FAIL("no item " << id);
    return 0;
  }

  /// The applicant supplies what active items need; the clerk verifies it.
  bool supply_materials(const std::string& id) {
    const auto v = view(id);
    bool acted = false;
    std::set<MaterialIndex> handled;  // a material several items need is supplied once
    for (ItemIndex i = 0; i < v.state.items.size(); ++i) {
      if (v.state.items[i].phase != ItemPhase::active) continue;
      for (const auto m : workflow_->items[i].needs) {
        if (!handled.insert(m).second) continue;
        const auto& material = workflow_->materials[m];
        const auto status = v.state.materials[m].status;
        if (material.source == MaterialSource::produced || !material_applies(*workflow_, v.state, m)) continue;
        if (status == MaterialStatus::missing || status == MaterialStatus::rejected) {
          // A real file of the first format the material declares (PDF when it declares none).
          const std::string format = material.formats.empty() ? "pdf" : material.formats.front();
          auto r = engine_->attach_content(id, material.id, onevisit::testing::sample_file(format, "材料 " + material.title + " / " + id),
                                           material.id + "." + format,
                                           {.command_id = "", .actor = "applicant", .role = "applicant"});
          INFO(material.id << ": " << (r ? "" : r.error().message));
          REQUIRE(r);
          acted = true;
        } else if (status == MaterialStatus::submitted) {
          auto r = engine_->execute(id, VerifyMaterial{material.id, true, ""}, {.command_id = "", .actor = "window-1", .role = "clerk"});
          INFO(material.id << ": " << (r ? "" : r.error().message));
          REQUIRE(r);
          acted = true;
        }
      }
    }
    return acted;
  }

  /// Decides one department's part of a joint item (会签), as that department's reviewer.
  void decide_part(const std::string& id, ItemIndex item, const std::string& department, bool approve, const std::string& note = "") {
    auto r = engine_->execute(id, DecidePart{workflow_->items[item].id, department, approve, note},
                              {.command_id = "", .actor = department + "-reviewer", .role = "reviewer", .department = department});
    INFO(workflow_->items[item].id << " part " << department << ": " << (r ? "" : r.error().message));
    REQUIRE(r);
  }

  /// Fires one transition of an item in the role it allows. A joint item's `approve` is each
  /// pending part approved by its department, its `reject` the first part refused.
  void fire(const std::string& id, ItemIndex item, TransitionIndex t, std::map<std::string, std::string> fields = {}) {
    const auto& lc = workflow_->lifecycles[workflow_->items[item].lifecycle];
    const auto& tr = lc.transitions[t];
    const auto& model = workflow_->items[item];
    if (!model.joint.empty() && (tr.event == "approve" || tr.event == "reject")) {
      const auto parts = view(id).state.items[item].parts;
      for (std::size_t p = 0; p < model.joint.size(); ++p) {
        if (p < parts.size() && parts[p].decision != PartDecision::pending) continue;
        const bool approve = tr.event == "approve";
        decide_part(id, item, workflow_->departments[model.joint[p]].id, approve, approve ? "" : fields.try_emplace("reason", "不符合条件").first->second);
        if (!approve) return;
      }
      return;
    }
    for (auto& [k, v] : fields_for(tr)) fields.try_emplace(k, v);
    auto r = engine_->execute(id, FireEvent{workflow_->items[item].id, tr.event, fields}, {.command_id = "", .actor = "staff", .role = role_for(tr)});
    INFO(workflow_->items[item].id << "." << tr.event << ": " << (r ? "" : r.error().message));
    REQUIRE(r);
  }

  /// One step of the happy path for every active item; false when nothing was left to do.
  bool advance_items(const std::string& id) {
    if (supply_materials(id)) return true;
    const auto v = view(id);
    bool acted = false;
    for (ItemIndex i = 0; i < v.state.items.size(); ++i) {
      if (v.state.items[i].phase != ItemPhase::active) continue;
      const auto& lc = workflow_->lifecycles[workflow_->items[i].lifecycle];
      const auto path = path_to_success(lc, v.state.items[i].state);
      if (path.empty()) continue;
      fire(id, i, path.front());
      acted = true;
    }
    return acted;
  }

  /// Runs the case to completion: steps, deliveries, time passing (90 minutes a step).
  void run_to_completion(const std::string& id) {
    for (int round = 0; round < 300; ++round) {
      settle();
      if (view(id).state.status != CaseStatus::running) return;
      const bool acted = advance_items(id);
      clock_.advance(90 * kMinuteMs);
      REQUIRE(engine_->fire_due_timers());
      if (!acted && round > 0) {
        settle();
        if (view(id).state.status != CaseStatus::running) return;
      }
    }
    FAIL("case " << id << " did not complete");
  }

  /// Every call for the case: delivered, taken effect exactly once at the simulator.
  void check_calls_took_effect_once(const std::string& id) {
    const auto effects = simulator_->effects();
    auto calls = engine_->calls(id, "", 100'000);
    REQUIRE(calls);
    for (const auto& call : *calls) {
      INFO("call " << call.idempotency_key << " to " << call.adapter << ": " << call.status << " " << call.last_error);
      CHECK(call.status == "delivered");
      if (call.adapter == "notify") continue;
      const auto it = effects.find(call.idempotency_key);
      REQUIRE(it != effects.end());
      CHECK(it->second == 1);
    }
  }

 private:
  void set_down(const std::string& system, bool down) {
    deptsim::Behaviour b = behaviour_;
    b.down = down;
    simulator_->set_behaviour(system, b);
  }

  bool exchanges_idle() const {
    std::error_code ec;
    for (const auto& s : exchange_systems_) {
      for (const char* folder : {"out", "in"}) {
        if (departments_down_ && std::string_view(folder) == "out") continue;
        for (const auto& entry : fs::directory_iterator(root_ / s / folder, ec)) {
          if (entry.path().extension() == ".xml") return false;
        }
      }
    }
    return true;
  }

  VirtualClock clock_;
  std::string bundle_id_;
  fs::path root_;
  std::shared_ptr<engine::Store> store_ = engine::make_memory_store();
  std::unique_ptr<Engine> engine_;
  std::shared_ptr<const Workflow> workflow_;
  std::unique_ptr<deptsim::Simulator> simulator_;
  std::set<std::string> http_systems_, exchange_systems_;
  deptsim::Behaviour behaviour_;
  bool departments_down_ = false;
  std::unique_ptr<adapters::AdapterConfig> config_;
  std::unique_ptr<adapters::Delivery> delivery_;
};

}  // namespace onevisit::testing
