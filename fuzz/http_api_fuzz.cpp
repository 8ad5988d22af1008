// Fuzz target `http_api`: raw bytes from a client, as one keep-alive connection sends them,
// through the server's HTTP parser (Beast, with the limits a connection uses) into the REST
// API on an in-memory engine and account store.
//
// The service is set up once per process, before AFL++ forks: the repository's workflows
// deployed, one user per role, each with an API token and a session. Inputs name them with
// placeholders that are swapped for the real secrets before parsing:
//   Authorization: Bearer ovt_fuzz_<user>
//   Cookie: ov_session=ses_fuzz_<user>; ov_csrf=csrf_fuzz_<user>   X-CSRF-Token: csrf_fuzz_<user>
// for the users admin, clerk, market (reviewer), police (reviewer), boss (supervisor) and
// designer. Up to 16 requests follow one another; as on a connection, reading stops at bytes
// that are not a request or after a response that closes the connection. State carries over
// from input to input within one process (the cases a request started stay).
//
// Properties: handle() throws nothing; every status is 1xx-4xx or 503 (a 500 means the
// server broke, and nothing can fail underneath in memory); a JSON answer is valid JSON
// (which includes valid UTF-8).
#include "fuzz_support.hpp"

#include "accounts.hpp"
#include "api.hpp"
#include "http_server.hpp"

#include <onevisit/dsl/expr.hpp>
#include <onevisit/engine/engine.hpp>

#include <boost/json.hpp>
#include <spdlog/sinks/null_sink.h>
#include <spdlog/spdlog.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

namespace {

using namespace onevisit;
using namespace onevisit::server;

constexpr std::size_t kMaxRequestsPerInput = 16;
constexpr std::size_t kMaxJsonBytes = 16 * 1024;
constexpr std::size_t kMaxMaterialBytes = 64 * 1024;

[[noreturn]] void setup_failed(const std::string& what) { fuzz::property_failed("setting up the service: " + what); }

struct Service {
  engine::VirtualClock clock{(dsl::days_from_civil({2026, 3, 2}) * 24 * 60 + 10 * 60) * 60'000};  // a Monday, 10:00
  std::unique_ptr<engine::Engine> engine;
  std::unique_ptr<AccountStore> accounts;
  std::unique_ptr<Api> api;
  HttpServerOptions http;
  std::vector<std::pair<std::string, std::string>> placeholders;  ///< placeholder -> secret

  Service() {
    // Logs are formatted (that code runs too) but written nowhere.
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("fuzz", std::make_shared<spdlog::sinks::null_sink_mt>()));
    auto opened = engine::Engine::open({":memory:", &clock});
    if (!opened) setup_failed(opened.error().message);
    engine = std::move(*opened);
    deploy_repository_workflows();
    auto store = AccountStore::open(":memory:", PasswordCost::minimal());
    if (!store) setup_failed(store.error().message);
    accounts = std::move(*store);
    for (const auto& [name, role, department] : std::vector<std::tuple<std::string, Role, std::string>>{
             {"admin", Role::admin, ""},
             {"clerk", Role::window_clerk, ""},
             {"market", Role::reviewer, "market"},
             {"police", Role::reviewer, "police"},
             {"boss", Role::supervisor, ""},
             {"designer", Role::designer, ""}}) {
      add_user(name, role, department);
    }
    ApiOptions options;
    options.max_json_bytes = kMaxJsonBytes;
    options.max_material_bytes = kMaxMaterialBytes;
    api = std::make_unique<Api>(*engine, *accounts, options);
    http.max_body_bytes = kMaxMaterialBytes;
  }

  void deploy_repository_workflows() {
    const std::filesystem::path root(ONEVISIT_SOURCE_DIR);
    std::map<std::string, std::string> files;
    std::vector<std::string> bundles;
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root / "workflows")) {
      if (!entry.is_regular_file() || entry.path().extension() != ".flow") continue;
      const auto path = entry.path().lexically_relative(root).generic_string();
      std::ifstream in(entry.path(), std::ios::binary);
      files[path] = std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (path.starts_with("workflows/bundles/")) bundles.push_back(path);
    }
    auto deployed = engine->deploy_sources(files, bundles);
    if (!deployed) setup_failed("deploying workflows/: " + deployed.error().message);
  }

  void add_user(const std::string& name, Role role, const std::string& department) {
    const auto now = engine->now();
    if (auto created = accounts->create_user(User{name, name, role, department, false, now}, "fuzz-password", now); !created) {
      setup_failed(created.error().message);
    }
    auto token = accounts->create_token(name, "fuzz", "write", now);
    if (!token) setup_failed(token.error().message);
    placeholders.emplace_back("ovt_fuzz_" + name, token->second);
    // Sessions far beyond any time a request could move the clock to.
    auto session = accounts->create_session(name, now, 100LL * 365 * 24 * 3600 * 1000);
    if (!session) setup_failed(session.error().message);
    placeholders.emplace_back("ses_fuzz_" + name, session->token);
    placeholders.emplace_back("csrf_fuzz_" + name, session->csrf_token);
  }

  std::string with_secrets(std::string bytes) const {
    for (const auto& [placeholder, secret] : placeholders) {
      for (auto at = bytes.find(placeholder); at != std::string::npos; at = bytes.find(placeholder, at + secret.size())) {
        bytes.replace(at, placeholder.size(), secret);
      }
    }
    return bytes;
  }
};

Service& service() {
  static Service instance;
  return instance;
}

void check_response(const HttpResponse& response) {
  fuzz::require(response.status >= 100 && response.status < 600, "a response has an HTTP status");
  fuzz::require(response.status < 500 || response.status == 503, "no request makes the API fail with a 5xx (other than 503)");
  if (response.content_type.starts_with("application/json")) {
    boost::system::error_code ec;
    (void)boost::json::parse(response.body, ec);
    fuzz::require(!ec, "a JSON answer is valid JSON in UTF-8");
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  (void)service();  // before AFL++ forks: every child starts from this state
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  auto& s = service();
  const std::string bytes = s.with_secrets(std::string(reinterpret_cast<const char*>(data), size));
  std::string_view rest(bytes);
  for (std::size_t n = 0; n < kMaxRequestsPerInput && !rest.empty(); ++n) {
    auto parsed = parse_request(rest, s.http, "203.0.113.7");
    if (!parsed) break;
    check_response(s.api->handle(parsed->request));
    if (!parsed->keep_alive || parsed->request.body_too_large || parsed->consumed == 0) break;
    rest.remove_prefix(parsed->consumed);
  }
  return 0;
}
