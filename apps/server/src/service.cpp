#include <onevisit/server/server.hpp>

#include "accounts.hpp"
#include "api.hpp"
#include "http_server.hpp"
#include "outage_log.hpp"

#include <onevisit/adapters/config.hpp>
#include <onevisit/adapters/delivery.hpp>
#include <onevisit/engine/database_url.hpp>
#include <onevisit/views/workflow_files.hpp>

#include <spdlog/spdlog.h>

#include <condition_variable>
#include <csignal>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <algorithm>
#include <set>
#include <thread>

namespace onevisit::server {

namespace {

// The system clock, some days ahead: a training room's service (ServiceOptions::clock_offset_days).
class AheadClock final : public engine::Clock {
 public:
  explicit AheadClock(int days) : ahead_(days * 24LL * 3600 * 1000) {}
  engine::Timestamp now() const override { return system_.now() + ahead_; }

 private:
  engine::SystemClock system_;
  engine::Timestamp ahead_;
};

}  // namespace

struct Service::Impl {
  ServiceOptions options;
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<AccountStore> accounts;
  std::unique_ptr<Api> api;
  std::unique_ptr<HttpServer> http;
  adapters::AdapterConfig config;
  bool configured = false;  ///< false: every system the workflows name logs its calls
  std::shared_ptr<engine::Store> store;  ///< the engine's, for the delivery's dispatcher
  std::unique_ptr<adapters::Delivery> delivery;
  std::optional<std::string> admin_password;
  std::vector<Service::DemoAccount> demo_accounts;
  /// The training clock (ServiceOptions::clock_offset_days), when one is set.
  std::unique_ptr<engine::Clock> training_clock;

  std::mutex mutex;
  std::condition_variable wake;
  bool stopping = false;
  bool stopped = false;
  std::thread timer_thread;
  std::thread dispatch_thread;
  std::thread deploy_thread;

  // Runs `work` every `interval` until stop.
  void every(std::chrono::milliseconds interval, const std::function<void()>& work) {
    std::unique_lock lock(mutex);
    while (!stopping) {
      lock.unlock();
      work();
      lock.lock();
      wake.wait_for(lock, interval, [this] { return stopping; });
    }
  }

  // Versions deployed through another node (or by `onevisit deploy` on the same database).
  // A database outage is logged when it starts and when it ends, not every second.
  OutageLog deploy_outage{"deploys: looking for new versions"};  ///< deploy thread only
  void refresh_deployed() {
    auto loaded = engine->refresh_deployed();
    if (!loaded) {
      deploy_outage.failed(OutageLog::Clock::now(), adapters::mask_identifiers(loaded.error().message));
      return;
    }
    deploy_outage.succeeded(OutageLog::Clock::now());
    if (*loaded > 0) spdlog::info("deploys: loaded {} versions deployed elsewhere", *loaded);
  }

  OutageLog timers_outage{"timers"};  ///< timer thread only
  void fire_timers() {
    auto fired = engine->fire_due_timers();
    if (!fired) {
      timers_outage.failed(OutageLog::Clock::now(), adapters::mask_identifiers(fired.error().message));
    } else {
      timers_outage.succeeded(OutageLog::Clock::now());
      if (*fired > 0) spdlog::info("timers: fired {}", *fired);
    }
    apply_retention();
  }

  // Once a day (on the engine's clock; first when the service starts): erases the personal
  // data of closed cases past their bundle's retention (docs/runtime.md, Retention).
  std::optional<engine::Timestamp> last_retention;  ///< timer thread only
  void apply_retention() {
    constexpr engine::Timestamp kDay = 24 * 3600 * 1000;
    const auto now = engine->now();
    if (last_retention && now - *last_retention < kDay) return;
    last_retention = now;
    auto erased = engine->apply_retention({"", "system:retention", "system"});
    if (!erased) spdlog::error("retention: {}", adapters::mask_identifiers(erased.error().message));
    else if (!erased->empty()) spdlog::info("retention: erased the personal data of {} closed cases", erased->size());
  }

  OutageLog delivery_outage{"delivery"};  ///< dispatch thread only
  void drain_outbox() {
    if (!configured) {
      // Systems named by every deployed version (a designer may deploy new ones while we
      // run). Only this thread uses the registry, between rounds.
      auto log = std::make_shared<adapters::LogAdapter>();
      config.registry.add("notify", log);
      if (auto list = engine->workflows()) {
        for (const auto& w : *list) {
          if (const auto wf = engine->workflow(w.bundle_id, w.version)) {
            for (const auto& d : wf->departments) {
              if (!d.adapter.empty()) config.registry.add(d.adapter, log);
            }
          }
        }
      }
    }
    auto round = delivery->run_once();
    if (!round) {
      delivery_outage.failed(OutageLog::Clock::now(), adapters::mask_identifiers(round.error()));
      return;
    }
    delivery_outage.succeeded(OutageLog::Clock::now());
    const auto& d = round->dispatch;
    if (d.delivered + d.retried + d.parked + d.results + round->receipts + round->quarantined > 0) {
      spdlog::info("delivery: delivered {}, to retry {}, parked {}, answers applied {}, receipts {} (quarantined {})", d.delivered,
                   d.retried, d.parked, d.results, round->receipts, round->quarantined);
    }
  }
};

Service::Service(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Service::~Service() { stop(); }

unsigned short Service::port() const { return impl_->http->port(); }
const std::optional<std::string>& Service::initial_admin_password() const { return impl_->admin_password; }
const std::vector<Service::DemoAccount>& Service::demo_accounts() const { return impl_->demo_accounts; }
engine::Engine& Service::engine() { return *impl_->engine; }

namespace {

std::filesystem::path default_pages_dir(const char* name) {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return {};
  auto dir = exe.parent_path() / name;
  if (std::filesystem::is_regular_file(dir / "index.html", ec)) return dir;
  return {};
}

// The demo staff set: enough people to walk any bundled case through every department.
// Reviewers are named after their department so that a tour can guess them.
std::expected<std::vector<Service::DemoAccount>, std::string> create_demo_staff(AccountStore& accounts, engine::Engine& engine) {
  struct Wanted {
    User user;
    std::string department_title;
  };
  std::vector<Wanted> wanted{{User{"wang", "王窗口", Role::window_clerk, "", false, 0}, ""},
                             {User{"zhao", "赵监管", Role::supervisor, "", false, 0}, ""}};
  auto deployed = engine.workflows();
  if (!deployed) return std::unexpected(deployed.error().message);
  std::map<std::string, std::string> departments;  // id -> title, in id order
  for (const auto& record : *deployed) {
    const auto workflow = engine.workflow(record.bundle_id, record.version);
    if (!workflow) continue;
    for (const auto& department : workflow->departments) departments.emplace(department.id, department.title);
  }
  for (const auto& [id, title] : departments) {
    wanted.push_back({User{id + "_reviewer", title + "审核员", Role::reviewer, id, false, 0}, title});
  }
  std::vector<Service::DemoAccount> created;
  for (auto& [user, department_title] : wanted) {
    auto existing = accounts.find_user(user.name);
    if (!existing) return std::unexpected(existing.error().message);
    if (*existing) continue;
    std::string password = random_hex(8);
    auto made = accounts.create_user(user, password, engine.now());
    if (!made) return std::unexpected("creating " + user.name + ": " + made.error().message);
    created.push_back({user.name, user.display_name, std::string(to_string(user.role)), department_title, std::move(password)});
  }
  spdlog::info("demo staff set: {} users created", created.size());
  return created;
}

}  // namespace

std::expected<std::unique_ptr<Service>, std::string> Service::start(const ServiceOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (options.database.empty() || options.database == ":memory:") {
    return std::unexpected(std::string("--db names an SQLite file or a PostgreSQL database postgresql://… (accounts and the audit "
                                       "trail are kept beside the cases)"));
  }
  const auto colon = options.listen.rfind(':');
  unsigned port = 0;
  if (colon == std::string::npos || colon == 0 ||
      std::sscanf(options.listen.c_str() + colon + 1, "%u", &port) != 1 || port > 65535) {
    return std::unexpected("--listen takes address:port, not '" + options.listen + "'");
  }
  if (options.audit_retention_days < 180) {
    return std::unexpected("--audit-retention-days is at least 180 (the Cybersecurity Law keeps network logs six months), not " +
                           std::to_string(options.audit_retention_days));
  }
  if (!options.public_url.empty()) {
    const std::string_view url = options.public_url;
    const bool scheme = url.starts_with("https://") || url.starts_with("http://");
    const bool plain = std::ranges::all_of(url, [](unsigned char c) { return c > 0x20 && c < 0x7f && c != '"' && c != '<' && c != '>'; });
    if (!scheme || !plain || url.size() > 200) {
      return std::unexpected("--public-url is the address applicants reach the service at, such as https://zwfw.example.gov.cn, not " +
                             options.public_url);
    }
  }
  if (!options.adapter_config.empty()) {
    auto config = adapters::load_adapter_config(options.adapter_config);
    if (!config) return std::unexpected(config.error());
    impl->config = std::move(*config);
    impl->configured = true;
  }

  const engine::Clock* clock = options.clock;
  if (!clock && options.clock_offset_days != 0) {
    if (options.clock_offset_days < -3650 || options.clock_offset_days > 3650) {
      return std::unexpected("--clock-offset-days is between -3650 and 3650, not " + std::to_string(options.clock_offset_days));
    }
    impl->training_clock = std::make_unique<AheadClock>(options.clock_offset_days);
    clock = impl->training_clock.get();
    spdlog::warn("TRAINING: the service's clock runs {} days ahead of the real one (--clock-offset-days); never use this "
                 "database for real cases",
                 options.clock_offset_days);
  }
  engine::EngineOptions engine_options{options.database, clock};
  engine_options.keys = impl->config.storage_keys;
  if (!engine_options.keys) {
    spdlog::warn("personal data is stored unencrypted in {}: give the configuration (--config) a [storage] key "
                 "(docs/storage.md, Encryption at rest)",
                 engine::masked_database(options.database));
  }
  // Opened here, for the dispatcher drains its outbox (the engine keeps it private).
  auto store = engine::open_store(engine_options);
  if (!store) return std::unexpected(store.error().message);
  impl->store = *store;
  engine_options.store = std::move(*store);
  auto engine = engine::Engine::open(engine_options);
  if (!engine) return std::unexpected(engine.error().message);
  impl->engine = std::move(*engine);
  auto accounts = AccountStore::open(options.database, options.cheap_password_hashing ? PasswordCost::minimal() : PasswordCost::interactive(),
                                     impl->config.storage_keys);
  if (!accounts) return std::unexpected(accounts.error().message);
  impl->accounts = std::move(*accounts);

  // First start: deploy the workflows, create the admin.
  auto deployed = impl->engine->workflows();
  if (!deployed) return std::unexpected(deployed.error().message);
  if (deployed->empty() && !options.workflows.empty()) {
    std::string error;
    const auto paths = views::expand_flow_paths({options.workflows}, error);
    if (!paths) return std::unexpected("--workflows: " + error);
    auto report = impl->engine->deploy(*paths);
    if (!report) {
      std::string message = "deploying " + options.workflows + ": " + report.error().message;
      for (const auto& d : report.error().diagnostics) {
        if (d.diagnostic.severity == dsl::Severity::error) message += "\n" + dsl::render_text(d);
      }
      return std::unexpected(message);
    }
    spdlog::info("deployed {} bundles from {}", report->bundles.size(), options.workflows);
  }
  auto users = impl->accounts->user_count();
  if (!users) return std::unexpected(users.error().message);
  auto admin = impl->accounts->find_user("admin");
  if (!admin) return std::unexpected(admin.error().message);
  if (*users == 0 || (options.reset_admin_password && !*admin)) {
    std::string password = random_hex(12);
    auto created = impl->accounts->create_user(User{"admin", "系统管理员", Role::admin, "", false, 0}, password, impl->engine->now());
    if (!created) return std::unexpected("creating the admin user: " + created.error().message);
    impl->admin_password = std::move(password);
  } else if (options.reset_admin_password) {
    std::string password = random_hex(12);
    AccountStore::UserChange change;
    change.password = password;
    change.role = Role::admin;
    change.disabled = false;
    auto updated = impl->accounts->update_user("admin", change);
    if (!updated) return std::unexpected("resetting the admin password: " + updated.error().message);
    impl->admin_password = std::move(password);
    spdlog::warn("the admin password was reset (--reset-admin-password)");
  }

  if (options.demo_staff) {
    auto created = create_demo_staff(*impl->accounts, *impl->engine);
    if (!created) return std::unexpected("--demo-staff: " + created.error());
    impl->demo_accounts = std::move(*created);
  }

  ApiOptions api;
  api.max_json_bytes = options.max_json_bytes;
  api.max_material_bytes = options.max_material_bytes;
  api.session_lifetime = options.session_lifetime.count();
  api.secure_cookies = options.secure_cookies;
  api.result_mapping = impl->config.results;
  api.elicense = impl->config.elicense;
  api.sms = impl->config.sms;
  api.oidc = impl->config.oidc;
  api.console_dir = options.console_dir.empty() ? default_pages_dir("console") : options.console_dir;
  api.applicant_dir = options.applicant_dir.empty() ? default_pages_dir("applicant") : options.applicant_dir;
  api.audit_retention = options.audit_retention_days * 24LL * 3600 * 1000;
  api.public_url = options.public_url;
  api.clock_offset_days = options.clock ? 0 : options.clock_offset_days;
  // Password hashing waits for at most half the request threads (one when there is one);
  // the others stay free for everything else. One thread hashes: argon2id takes a core.
  const std::size_t hashing_slots = std::max<std::size_t>(1, options.threads / 2);
  api.hashing_threads = 1;
  api.hashing_queue = hashing_slots - 1;
  impl->api = std::make_unique<Api>(*impl->engine, *impl->accounts, api);

  impl->delivery = std::make_unique<adapters::Delivery>(*impl->engine, *impl->store, impl->config);

  HttpServerOptions http;
  http.address = options.listen.substr(0, colon);
  http.port = static_cast<unsigned short>(port);
  http.threads = options.threads;
  // The parser's limit is the larger of the two; JSON routes check their own smaller limit.
  http.max_body_bytes = std::max(options.max_material_bytes, options.max_json_bytes);
  http.max_connections = options.max_connections;
  Api* handler = impl->api.get();
  // Strangers get a login's worth of body: the body is only read once the head authenticates.
  http.body_limit = [handler](const HttpRequest& head) { return handler->body_limit(head); };
  auto server = HttpServer::start(http, [handler](const HttpRequest& request) { return handler->handle(request); });
  if (!server) return std::unexpected(server.error());
  impl->http = std::move(*server);

  Impl* raw = impl.get();
  impl->timer_thread = std::thread([raw] {
    raw->every(raw->options.timer_interval, [raw] {
      raw->fire_timers();
      raw->api->flush_refusals();
    });
  });
  impl->dispatch_thread = std::thread([raw] { raw->every(raw->options.dispatch_interval, [raw] { raw->drain_outbox(); }); });
  // A thread of its own: a long round of timers must not hold back another node's deploy.
  impl->deploy_thread = std::thread([raw] { raw->every(raw->options.deploy_check_interval, [raw] { raw->refresh_deployed(); }); });
  return std::unique_ptr<Service>(new Service(std::move(impl)));
}

void Service::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->http->stop();  // in-flight requests answer first
  impl_->api->flush_all_refusals();
  {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
  }
  impl_->wake.notify_all();
  impl_->timer_thread.join();
  impl_->dispatch_thread.join();
  impl_->deploy_thread.join();
}

int run_serve(const ServiceOptions& options, std::ostream& out, std::ostream& err) {
  // Block the stop signals in every thread the service starts; this thread waits for them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  auto service = Service::start(options);
  if (!service) {
    err << "onevisit serve: " << service.error() << "\n";
    return 2;
  }
  const auto colon = options.listen.rfind(':');
  out << "onevisit serve: listening on http://" << options.listen.substr(0, colon) << ":" << (*service)->port() << "/\n";
  if (const auto& password = (*service)->initial_admin_password()) {
    out << "log in as 'admin' with the password " << *password << "\n"
        << "(shown only this once; it is stored hashed. Create the clerks' accounts under 用户 / Users.)\n";
  }
  if (const auto& staff = (*service)->demo_accounts(); !staff.empty()) {
    out << "demo staff set (passwords shown only this once):\n";
    for (const auto& account : staff) {
      out << "  " << account.name << "  " << account.display_name << "  " << account.role
          << (account.department.empty() ? "" : "  " + account.department) << "  password " << account.password << "\n";
    }
  }
  out.flush();
  int received = 0;
  sigwait(&signals, &received);
  out << "onevisit serve: " << (received == SIGTERM ? "SIGTERM" : "SIGINT") << ", finishing in-flight requests\n";
  out.flush();
  (*service)->stop();
  out << "onevisit serve: stopped\n";
  return 0;
}

}  // namespace onevisit::server
