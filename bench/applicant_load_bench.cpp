// Load of the applicant channel (issue 15; docs/performance.md, Applicants): N applicants at
// once, each on one keep-alive connection from an address of its own (127.1.x.y), log in by
// SMS code (the department simulator plays the gateway, in this process) to one
// `onevisit serve` on SQLite (a process of its own), then
//   1. browse and submit as people do: the bundle list, a bundle, their cases, a submission,
//      with a pause of 0.5 to 1.5 s before each request; the pages' latency percentiles;
//   2. submit as fast as they can: durable submissions per second (each POST
//      /api/applicant/cases is a case start committed to disk before its 201).
//
//   onevisit_applicant_load_bench PATH_TO_ONEVISIT [applicants (500)] [seconds per phase (20)]
//
// Targets (issue 15): page p99 < 100 ms, durable submissions >= 300/s.
#include "deptsim/simulator.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

const char* kFlow = R"(
lifecycle simple {
  state submitted initial; state accepted; state approved final
  on accept: submitted -> accepted by clerk
  on approve: accepted -> approved by reviewer
}
department civil "民政局" adapter civil_registry
item registration "婚姻登记" by civil { limit 5 workdays }
bundle marriage "结婚登记一件事" version 1 {
  promise 5 workdays; lifecycle simple
  form {
    applicant_name "申请人姓名": text required
    mobile "手机号码": phone required
  }
  use registration
}
)";

double cpu_seconds(int who) {
  rusage usage{};
  ::getrusage(who, &usage);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

// One applicant's browser: one keep-alive connection, the applicant's cookies.
class Browser {
 public:
  Browser(unsigned short port, const std::string& from) : port_(port), from_(from), stream_(io_) {}

  struct Answer {
    unsigned status = 0;
    std::string body;
  };

  Answer send(http::verb method, const std::string& target, const std::string& body = {}, const std::string& key = {}) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        if (!connected_) connect();
        http::request<http::string_body> request(method, target, 11);
        request.set(http::field::host, "127.0.0.1");
        request.keep_alive(true);
        if (!session_.empty()) request.set(http::field::cookie, "ov_applicant=" + session_ + "; ov_applicant_csrf=" + csrf_);
        if (!csrf_.empty() && method != http::verb::get) request.set("X-CSRF-Token", csrf_);
        if (!key.empty()) request.set("Idempotency-Key", key);
        if (!body.empty()) request.set(http::field::content_type, "application/json");
        request.body() = body;
        request.prepare_payload();
        http::write(stream_, request);
        http::response<http::string_body> response;
        http::read(stream_, buffer_, response);
        for (const auto& field : response.base()) {
          if (field.name() != http::field::set_cookie) continue;
          const std::string cookie(field.value());
          const auto value = [&](const std::string& name) { return cookie.substr(name.size() + 1, cookie.find(';') - name.size() - 1); };
          if (cookie.rfind("ov_applicant=", 0) == 0) session_ = value("ov_applicant");
          if (cookie.rfind("ov_applicant_csrf=", 0) == 0) csrf_ = value("ov_applicant_csrf");
        }
        if (!response.keep_alive()) disconnect();
        return Answer{response.result_int(), std::move(response.body())};
      } catch (const std::exception&) {
        disconnect();  // the server closed an idle connection: once more on a new one
      }
    }
    return Answer{0, "no answer"};
  }

 private:
  void connect() {
    stream_.socket().open(asio::ip::tcp::v4());
    stream_.socket().set_option(asio::socket_base::reuse_address(true));
    stream_.socket().bind({asio::ip::make_address(from_), 0});
    stream_.connect(asio::ip::tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_));
    connected_ = true;
  }
  void disconnect() {
    beast::error_code ec;
    stream_.socket().close(ec);
    buffer_.clear();
    connected_ = false;
  }

  unsigned short port_;
  std::string from_;
  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
  std::string session_, csrf_;
};

struct Tally {
  std::mutex mutex;
  std::vector<double> page_ms;  // each page GET's latency
  std::vector<double> submit_ms;
  std::atomic<long> submissions{0};
  std::atomic<long> failures{0};
  std::string first_failure;
  void fail(const std::string& what) {
    if (failures++ == 0) {
      std::lock_guard lock(mutex);
      first_failure = what;
    }
  }
};

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[std::min(values.size() - 1, static_cast<std::size_t>(p * static_cast<double>(values.size())))];
}

// Starts `onevisit serve` and returns its pid and port.
std::pair<pid_t, unsigned short> start_server(const std::string& binary, const fs::path& dir) {
  const std::string log = (dir / "serve.log").string();
  std::vector<std::string> args{binary, "--log-level", "error", "serve", "--db", (dir / "cases.db").string(), "--workflows", (dir / "workflows").string(),
                                "--config", (dir / "deploy.toml").string(), "--listen", "127.0.0.1:0", "--max-connections", "2048"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, STDOUT_FILENO, STDERR_FILENO);
  pid_t pid = 0;
  if (posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv.data(), environ) != 0) {
    std::fprintf(stderr, "applicant_load_bench: cannot start %s\n", binary.c_str());
    std::exit(1);
  }
  posix_spawn_file_actions_destroy(&actions);
  const std::regex listening(R"(listening on http://127\.0\.0\.1:(\d+)/)");
  for (int wait = 0; wait < 600; ++wait) {
    std::ifstream in(log);
    std::stringstream text;
    text << in.rdbuf();
    const std::string output = text.str();
    std::smatch match;
    if (std::regex_search(output, match, listening)) return {pid, static_cast<unsigned short>(std::stoi(match[1]))};
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::fprintf(stderr, "applicant_load_bench: onevisit serve did not start (%s)\n", log.c_str());
  ::kill(pid, SIGTERM);
  std::exit(1);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PATH_TO_ONEVISIT [applicants] [seconds per phase]\n", argv[0]);
    return 2;
  }
  const std::string binary = fs::absolute(argv[1]).string();
  const int applicants = argc >= 3 ? std::atoi(argv[2]) : 500;
  const double seconds = argc >= 4 ? std::atof(argv[3]) : 20.0;
  rlimit files{};
  ::getrlimit(RLIMIT_NOFILE, &files);
  files.rlim_cur = files.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &files);

  auto simulator = onevisit::deptsim::Simulator::start({});
  if (!simulator) {
    std::fprintf(stderr, "applicant_load_bench: %s\n", simulator.error().c_str());
    return 1;
  }
  const fs::path dir = fs::temp_directory_path() / ("onevisit-applicant-bench-" + std::to_string(::getpid()));
  fs::create_directories(dir / "workflows");
  std::ofstream(dir / "workflows" / "marriage.flow") << kFlow;
  const std::string sim = (*simulator)->url();
  std::ofstream(dir / "deploy.toml") << "[systems.civil_registry]\nkind = \"log\"\n[systems.notify]\nkind = \"log\"\n"
                                     << "[sms]\nurl = \"" << sim << "/sms\"\nsign = \"政务服务中心\"\ntimeout_ms = 5000\n";
  const auto [server, port] = start_server(binary, dir);
  std::printf("onevisit serve on SQLite (%s), %d applicants, %.0f s per phase, %u cores\n", (dir / "cases.db").c_str(), applicants,
              seconds, std::thread::hardware_concurrency());

  Tally browsing, submitting;
  std::atomic<int> logged_in{0};
  std::atomic<int> phase{0};  // 0: logging in, 1: browsing, 2: submitting, 3: done
  std::vector<std::thread> people;
  for (int i = 0; i < applicants; ++i) {
    people.emplace_back([&, i] {
      const std::string phone = "139" + std::to_string(10'000'000 + i);
      Browser browser(port, "127.1." + std::to_string(i / 200) + "." + std::to_string(i % 200 + 1));
      std::mt19937 random(static_cast<unsigned>(i));
      const auto sent = browser.send(http::verb::post, "/api/applicant/sms-codes", json::serialize(json::object{{"phone", phone}}));
      std::string code;
      for (int wait = 0; wait < 100 && code.empty(); ++wait) {
        for (const auto& text : (*simulator)->texts_to(phone)) {
          std::smatch m;
          if (std::regex_search(text.text, m, std::regex("验证码是 ([0-9]{6})"))) code = m[1];
        }
        if (code.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      const auto in = browser.send(http::verb::post, "/api/applicant/session", json::serialize(json::object{{"phone", phone}, {"code", code}}));
      if (sent.status != 202 || in.status != 200) {
        browsing.fail("login of applicant " + std::to_string(i) + ": " + std::to_string(sent.status) + " then " + std::to_string(in.status) + " " + in.body);
        ++logged_in;
        return;
      }
      ++logged_in;
      while (phase == 0) std::this_thread::sleep_for(std::chrono::milliseconds(10));
      const std::string form = json::serialize(json::object{{"bundle", "marriage"}, {"form", json::object{{"applicant_name", "张三"}, {"mobile", phone}}}});
      int submitted = 0;
      const auto submit = [&](Tally& tally) {
        const auto t0 = Clock::now();
        const auto answer = browser.send(http::verb::post, "/api/applicant/cases", form, "a" + std::to_string(i) + "-" + std::to_string(++submitted));
        const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
        if (answer.status != 201) return tally.fail("submission: " + std::to_string(answer.status) + " " + answer.body.substr(0, 200));
        ++tally.submissions;
        std::lock_guard lock(tally.mutex);
        tally.submit_ms.push_back(ms);
      };
      std::uniform_int_distribution<int> pause(500, 1500);
      const char* pages[] = {"/api/applicant/bundles", "/api/applicant/bundles/marriage", "/api/applicant/cases"};
      while (phase == 1) {
        for (const char* page : pages) {
          std::this_thread::sleep_for(std::chrono::milliseconds(pause(random)));
          if (phase != 1) break;
          const auto t0 = Clock::now();
          const auto answer = browser.send(http::verb::get, page);
          const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
          if (answer.status != 200) {
            browsing.fail(std::string(page) + ": " + std::to_string(answer.status));
            continue;
          }
          std::lock_guard lock(browsing.mutex);
          browsing.page_ms.push_back(ms);
        }
        if (phase != 1) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(pause(random)));
        submit(browsing);
      }
      while (phase == 2) submit(submitting);
    });
  }
  while (logged_in < applicants) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::printf("logged in: %d applicants by SMS code (%ld failed)\n", applicants, browsing.failures.load());

  // One phase: its wall seconds, the submissions it counted, this process's CPU seconds.
  const auto measure = [&](int which, Tally& tally) {
    const double cpu0 = cpu_seconds(RUSAGE_SELF);
    const auto t0 = Clock::now();
    phase = which;
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    const long submitted = tally.submissions;
    const double wall = std::chrono::duration<double>(Clock::now() - t0).count();
    return std::tuple{wall, submitted, cpu_seconds(RUSAGE_SELF) - cpu0};
  };
  const auto [browse_wall, browse_submitted, browse_cpu] = measure(1, browsing);
  const auto [submit_wall, submit_count, submit_cpu] = measure(2, submitting);
  phase = 3;
  for (auto& person : people) person.join();
  ::kill(server, SIGTERM);
  int status = 0;
  ::waitpid(server, &status, 0);
  (*simulator)->stop();

  std::printf("\nbrowsing (a pause of 0.5-1.5 s before each request): %zu pages, %.0f pages/s; page latency p50 %.1f ms, p90 %.1f ms, "
              "p99 %.1f ms, max %.1f ms (target p99 < 100 ms); %ld submissions meanwhile (p99 %.1f ms)\n",
              browsing.page_ms.size(), static_cast<double>(browsing.page_ms.size()) / browse_wall, percentile(browsing.page_ms, 0.5),
              percentile(browsing.page_ms, 0.9), percentile(browsing.page_ms, 0.99), percentile(browsing.page_ms, 1.0), browse_submitted,
              percentile(browsing.submit_ms, 0.99));
  std::printf("submitting without pause: %ld durable submissions in %.1f s = %.0f/s (target >= 300/s); latency p50 %.1f ms, p99 %.1f ms\n",
              submit_count, submit_wall, static_cast<double>(submit_count) / submit_wall, percentile(submitting.submit_ms, 0.5),
              percentile(submitting.submit_ms, 0.99));
  std::printf("CPU of this load generator: %.0f%% of one core while browsing, %.0f%% while submitting\n", 100 * browse_cpu / browse_wall,
              100 * submit_cpu / submit_wall);
  std::printf("failures: %ld browsing, %ld submitting%s%s\n", browsing.failures.load(), submitting.failures.load(),
              browsing.first_failure.empty() ? "" : "; first: ", browsing.first_failure.empty() ? submitting.first_failure.c_str() : browsing.first_failure.c_str());
  std::error_code ec;
  fs::remove_all(dir, ec);
  return browsing.failures + submitting.failures > 0 ? 1 : 0;
}
