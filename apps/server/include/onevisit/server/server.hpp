// The clerk service: one process with the HTTP server (REST API and web console), the
// Engine, the timer scheduler and the adapter dispatcher, on one SQLite database.
//
//   auto service = onevisit::server::Service::start({.database = "cases.db", .workflows = "workflows"});
//   // ... (*service)->port(), (*service)->initial_admin_password()
//   (*service)->stop();  // stop accepting, finish in-flight requests, stop the threads
//
// On first start with an empty database the service deploys the workflows folder and
// creates the user `admin` with a generated password (shown once, stored as argon2id).
// docs/api.md documents the REST API.
//
// Thread safety: start/stop from one controlling thread; the service runs its own threads.
#pragma once

#include <onevisit/engine/engine.hpp>

#include <chrono>
#include <expected>
#include <filesystem>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace onevisit::server {

struct ServiceOptions {
  std::string database;        ///< the SQLite file (created when missing)
  std::string workflows;       ///< folder deployed on first start (empty: deploy nothing)
  std::string adapter_config;  ///< TOML (adapters/config.hpp); empty: every system logs its calls
  std::string listen = "127.0.0.1:8080";  ///< address:port; port 0 picks a free one
  std::size_t threads = 4;                ///< HTTP worker threads
  std::size_t max_material_bytes = 8 * 1024 * 1024;
  std::size_t max_json_bytes = 1024 * 1024;
  /// Open HTTP connections; more are answered 503 with Retry-After. Each costs a descriptor.
  std::size_t max_connections = 512;
  std::chrono::milliseconds timer_interval{1000};     ///< how often due timers are fired
  std::chrono::milliseconds dispatch_interval{1000};  ///< how often the outbox is drained
  /// How often the service looks for versions another node deployed to a shared database
  /// (Engine::refresh_deployed): a deploy through any node serves on this one within it.
  std::chrono::milliseconds deploy_check_interval{1000};
  std::chrono::milliseconds session_lifetime{8 * 3600 * 1000};
  /// Mark the session and CSRF cookies Secure: set it when clients reach the service over
  /// HTTPS (a TLS proxy in front); browsers then never send the cookies in clear text.
  bool secure_cookies = false;
  /// The web console's files. Default: `console/` next to the executable, if present.
  std::filesystem::path console_dir;
  /// The applicant's pages, served under /m/. Default: `applicant/` next to the executable,
  /// if present.
  std::filesystem::path applicant_dir;
  /// Time source for the engine and for sessions; null: the system clock. Not owned.
  const engine::Clock* clock = nullptr;
  /// Give `admin` a new generated password (shown once, like on the first start); creates
  /// the user when missing. For a lost admin password.
  bool reset_admin_password = false;
  /// Create the demo staff set if missing: a window clerk (wang), a supervisor (zhao) and one
  /// reviewer per department of the deployed workflows (<department>_reviewer), each with a
  /// generated password shown once. For tours and trials; users that exist are left alone.
  bool demo_staff = false;
  /// Tests only: the cheapest argon2id parameters (passwords stay argon2id strings).
  bool cheap_password_hashing = false;
  /// Audit records younger than this many days cannot be pruned (POST /api/audit/prune).
  /// At least 180: the Cybersecurity Law (网络安全法, art. 21) keeps network logs six months.
  int audit_retention_days = 180;
  /// The service's address as applicants reach it ("https://zwfw.example.gov.cn"), printed as
  /// the QR code on notices; empty: the address a request came to (its Host header).
  std::string public_url;
  /// Training and trials only: the service's clock runs this many days ahead of the real one,
  /// so that a training room sees deadlines come and pass. Never in production (deadlines and
  /// the history would record a false time); the service logs a warning and the console shows a
  /// banner while it is set. Ignored when `clock` is given.
  int clock_offset_days = 0;
};

class Service {
 public:
  /// Opens the database, deploys and creates the admin on first start, binds and starts.
  /// The error says what failed (database, workflows, configuration, address).
  static std::expected<std::unique_ptr<Service>, std::string> start(const ServiceOptions& options);
  ~Service();  ///< stops
  Service(const Service&) = delete;
  Service& operator=(const Service&) = delete;

  unsigned short port() const;
  /// The generated admin password when this start created the admin user (or reset its
  /// password); shown once.
  const std::optional<std::string>& initial_admin_password() const;
  /// A user the demo staff set (ServiceOptions::demo_staff) created on this start.
  struct DemoAccount {
    std::string name;
    std::string display_name;
    std::string role;        ///< as the API names it (window_clerk, reviewer, supervisor)
    std::string department;  ///< the department's title, for reviewers
    std::string password;    ///< generated; shown once
  };
  const std::vector<DemoAccount>& demo_accounts() const;
  engine::Engine& engine();
  /// Stops accepting, lets in-flight requests answer, stops the timer and dispatch threads.
  /// Idempotent.
  void stop();

 private:
  struct Impl;
  explicit Service(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// `onevisit serve`: starts the service, prints where it listens (and the admin password on
/// first start), and runs until SIGTERM or SIGINT; then shuts down gracefully. Returns the
/// process exit code (0 after a clean shutdown, 2 when it cannot start).
int run_serve(const ServiceOptions& options, std::ostream& out, std::ostream& err);

}  // namespace onevisit::server
