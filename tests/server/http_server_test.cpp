// The HTTP/1.1 server alone (no API behind it), over real loopback sockets with raw bytes:
// RFC 9112 framing (pipelining, HEAD, Host, limits and their statuses, Expect), what a
// connection may cost (body limits from the head, the connection cap) and the accept loop
// surviving descriptor exhaustion.
#include <catch2/catch.hpp>

#include "http_server.hpp"
#include "outage_log.hpp"
#include "server/raw_http.hpp"

#include <spdlog/logger.h>
#include <spdlog/sinks/ringbuffer_sink.h>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

using namespace onevisit;
using namespace std::chrono_literals;
using onevisit::testing::RawConnection;
using onevisit::testing::RawResponse;

namespace {

// Answers "<method> <target> <body bytes>"; 413 for a body over the limit.
server::HttpResponse echo(const server::HttpRequest& request) {
  server::HttpResponse r;
  r.content_type = "text/plain";
  if (request.body_too_large) {
    r.status = 413;
    r.body = "too large, limit " + std::to_string(request.body_limit);
    return r;
  }
  r.body = request.method + " " + request.target + " " + std::to_string(request.body.size());
  return r;
}

server::HttpServerOptions small_options() {
  server::HttpServerOptions options;
  options.address = "127.0.0.1";
  options.port = 0;
  options.threads = 2;
  options.max_body_bytes = 64 * 1024;
  options.idle_timeout_seconds = 10;
  return options;
}

struct Running {
  std::unique_ptr<server::HttpServer> server;
  explicit Running(const server::HttpServerOptions& options = small_options(),
                   server::HttpHandler handler = echo) {
    auto started = server::HttpServer::start(options, std::move(handler));
    if (!started) FAIL(started.error());
    server = std::move(*started);
  }
  unsigned short port() const { return server->port(); }
};

std::string get(const std::string& target, const std::string& extra = {}) {
  return "GET " + target + " HTTP/1.1\r\nHost: test\r\n" + extra + "\r\n";
}

// Lowers the soft descriptor limit for the scope, restoring it afterwards.
class DescriptorLimit {
 public:
  explicit DescriptorLimit(rlim_t soft) {
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &saved_) == 0);
    rlimit lowered = saved_;
    lowered.rlim_cur = soft;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &lowered) == 0);
  }
  ~DescriptorLimit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }

 private:
  rlimit saved_{};
};

int highest_open_descriptor() {
  int highest = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max(highest, std::stoi(entry.path().filename().string()));
  }
  return highest;
}

}  // namespace

TEST_CASE(
    "http: the accept loop survives running out of descriptors (EMFILE) and logs it once, not per failure",
    "[http]") {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(1000);
  auto options = small_options();
  options.logger = std::make_shared<spdlog::logger>("http-test", sink);
  Running running(options);
  {
    std::vector<int> clients;
    std::vector<int> fillers;
    {
      DescriptorLimit limit(static_cast<rlim_t>(highest_open_descriptor() + 16));
      for (int i = 0; i < 4; ++i) {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        REQUIRE(fd >= 0);
        clients.push_back(fd);
      }
      // Every other descriptor taken: the server's accept() fails with EMFILE.
      for (;;) {
        const int fd = ::open("/dev/null", O_RDONLY);
        if (fd < 0) {
          REQUIRE(errno == EMFILE);
          break;
        }
        fillers.push_back(fd);
      }
      sockaddr_in address{};
      address.sin_family = AF_INET;
      address.sin_port = htons(running.port());
      address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      for (const int fd : clients)
        REQUIRE(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
      std::this_thread::sleep_for(500ms);  // the server tries to accept them, several times
    }
    for (const int fd : fillers) ::close(fd);
    for (const int fd : clients) ::close(fd);
  }
  RawConnection again(running.port());
  REQUIRE(again.send(get("/after")));
  const auto reply = again.read_response();
  REQUIRE(reply);
  CHECK(reply->status == 200);
  CHECK(reply->body == "GET /after 0");

  std::size_t failure_lines = 0;
  std::size_t recovery_lines = 0;
  for (const auto& line : sink->last_formatted()) {
    if (line.find("cannot accept") != std::string::npos) ++failure_lines;
    if (line.find("accepting connections again") != std::string::npos) ++recovery_lines;
  }
  CHECK(failure_lines == 1);  // several attempts failed within the log interval
  CHECK(recovery_lines == 1);
}

TEST_CASE("http: pipelined requests on one connection are all answered, in order", "[http]") {
  Running running;
  RawConnection c(running.port());
  const std::string post_body = "{\"a\":1}";
  REQUIRE(c.send(get("/one") + "POST /two HTTP/1.1\r\nHost: test\r\nContent-Length: " +
                 std::to_string(post_body.size()) + "\r\n\r\n" + post_body + get("/three")));
  for (const std::string expected : {"GET /one 0", "POST /two 7", "GET /three 0"}) {
    const auto reply = c.read_response();
    REQUIRE(reply);
    CHECK(reply->status == 200);
    CHECK(reply->body == expected);
  }
  // The connection stays open for more.
  REQUIRE(c.send(get("/four")));
  const auto reply = c.read_response();
  REQUIRE(reply);
  CHECK(reply->body == "GET /four 0");
}

TEST_CASE("http: a HEAD answer has GET's Content-Length and no body", "[http]") {
  Running running;
  RawConnection c(running.port());
  // The GET after it on the same connection reads garbage if the HEAD answer carries a body.
  REQUIRE(c.send("HEAD /page HTTP/1.1\r\nHost: test\r\n\r\n" + get("/page")));
  const auto head = c.read_response(true);
  REQUIRE(head);
  CHECK(head->status == 200);
  CHECK(head->header("content-length") == std::to_string(std::string("HEAD /page 0").size()));
  const auto after = c.read_response();
  REQUIRE(after);
  CHECK(after->status == 200);
  CHECK(after->body == "GET /page 0");
}

TEST_CASE("http: a HTTP/1.1 request without Host, or with two, gets 400 and the connection closes",
          "[http]") {
  Running running;
  for (const std::string request :
       {"GET /x HTTP/1.1\r\n\r\n", "GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"}) {
    RawConnection c(running.port());
    REQUIRE(c.send(request));
    const auto reply = c.read_response();
    REQUIRE(reply);
    CHECK(reply->status == 400);
    CHECK(reply->header("connection") == "close");
    CHECK(c.closed_by_server());
  }
  // HTTP/1.0 has no Host requirement.
  RawConnection old(running.port());
  REQUIRE(old.send("GET /x HTTP/1.0\r\n\r\n"));
  const auto reply = old.read_response();
  REQUIRE(reply);
  CHECK(reply->status == 200);
}

TEST_CASE("http: an oversized header gets 431, an oversized target 414, then the connection closes",
          "[http]") {
  Running running;
  SECTION("a header field larger than the head limit") {
    RawConnection c(running.port());
    REQUIRE(c.send(get("/x", "X-Big: " + std::string(20 * 1024, 'a') + "\r\n")));
    const auto reply = c.read_response();
    REQUIRE(reply);
    CHECK(reply->status == 431);
    CHECK(c.closed_by_server());
  }
  SECTION("many header fields") {
    std::string fields;
    for (int i = 0; i < 2000; ++i) fields += "X-F" + std::to_string(i) + ": value\r\n";
    RawConnection c(running.port());
    REQUIRE(c.send(get("/x", fields)));
    const auto reply = c.read_response();
    REQUIRE(reply);
    CHECK(reply->status == 431);
  }
  SECTION("a target longer than the head limit") {
    RawConnection c(running.port());
    REQUIRE(c.send(get("/" + std::string(20 * 1024, 'a'))));
    const auto reply = c.read_response();
    REQUIRE(reply);
    CHECK(reply->status == 414);
    CHECK(c.closed_by_server());
  }
  SECTION("a target longer than the target limit, in a head that fits") {
    RawConnection c(running.port());
    REQUIRE(c.send(get("/" + std::string(10 * 1024, 'a'))));
    const auto reply = c.read_response();
    REQUIRE(reply);
    CHECK(reply->status == 414);
  }
  SECTION("a target of 8000 bytes is served (RFC 9112 recommends at least that)") {
    RawConnection c(running.port());
    REQUIRE(c.send(get("/" + std::string(7999, 'a'))));
    const auto reply = c.read_response();
    REQUIRE(reply);
    CHECK(reply->status == 200);
  }
}

TEST_CASE("http: a Content-Length over the limit gets 413 at once, without the body being sent", "[http]") {
  Running running;  // max_body_bytes 64 KiB
  RawConnection c(running.port());
  REQUIRE(c.send("POST /upload HTTP/1.1\r\nHost: test\r\nContent-Length: 100000000\r\n\r\n"));
  const auto reply = c.read_response(false, 3s);
  REQUIRE(reply);
  CHECK(reply->status == 413);
  CHECK(reply->body == "too large, limit 65536");
  CHECK(reply->header("connection") == "close");
  CHECK(c.closed_by_server());
}

TEST_CASE("http: a malformed request line or chunked body gets 400, then the connection closes", "[http]") {
  Running running;
  for (const std::string& request :
       {std::string("GARBAGE\r\n\r\n"), std::string("GET /x HTTP/9.9 extra\r\nHost: t\r\n\r\n"),
        std::string(
            "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n"),
        std::string("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd"),
        // Smuggling: a body of unknown length must not become the next request.
        std::string("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n") + get("/smuggled"),
        std::string("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "0\r\n\r\n") +
            get("/smuggled")}) {
    INFO(request);
    RawConnection c(running.port());
    REQUIRE(c.send(request));
    const auto reply = c.read_response();
    REQUIRE(reply);
    CHECK(reply->status == 400);
    CHECK(c.closed_by_server());
  }
  // A well-formed chunked body is read.
  RawConnection c(running.port());
  REQUIRE(c.send(
      "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"));
  const auto reply = c.read_response();
  REQUIRE(reply);
  CHECK(reply->body == "POST /x 5");
}

TEST_CASE("http: a chunked body over the limit gets 413", "[http]") {
  Running running;  // 64 KiB
  RawConnection c(running.port());
  std::string request = "POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) request += "1000\r\n" + std::string(0x1000, 'x') + "\r\n";  // 80 KiB
  request += "0\r\n\r\n";
  c.send(request);
  const auto reply = c.read_response();
  REQUIRE(reply);
  CHECK(reply->status == 413);
}

TEST_CASE("http: Expect: 100-continue is answered before the body, other expectations get 417", "[http]") {
  Running running;
  SECTION("within the limit: 100 Continue, then the answer") {
    RawConnection c(running.port());
    REQUIRE(c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
    const auto interim = c.read_response(false, 3s);
    REQUIRE(interim);
    CHECK(interim->status == 100);
    REQUIRE(c.send("hello"));
    const auto reply = c.read_response();
    REQUIRE(reply);
    CHECK(reply->status == 200);
    CHECK(reply->body == "POST /x 5");
  }
  SECTION("over the limit: 413 without 100 Continue") {
    RawConnection c(running.port());
    REQUIRE(c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\nExpect: 100-continue\r\n\r\n"));
    const auto reply = c.read_response(false, 3s);
    REQUIRE(reply);
    CHECK(reply->status == 413);
  }
  SECTION("an unknown expectation") {
    RawConnection c(running.port());
    REQUIRE(
        c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: something-else\r\n\r\nhello"));
    const auto reply = c.read_response(false, 3s);
    REQUIRE(reply);
    CHECK(reply->status == 417);
  }
}

TEST_CASE("http: the body limit comes from the request's head, before the body is read", "[http]") {
  auto options = small_options();
  options.body_limit = [](const server::HttpRequest& head) -> std::size_t {
    return head.header("authorization") == "yes" ? 64 * 1024 : 100;
  };
  Running running(options);
  SECTION("a stranger's large Content-Length: 413 at once (the server waits for no body)") {
    RawConnection c(running.port());
    REQUIRE(c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n"));
    const auto reply = c.read_response(false, 3s);
    REQUIRE(reply);
    CHECK(reply->status == 413);
    CHECK(reply->body == "too large, limit 100");
  }
  SECTION("a stranger's small body is read") {
    RawConnection c(running.port());
    REQUIRE(c.send("POST /x HTTP/1.1\r\nHost: t\r\nContent-Length: 50\r\n\r\n" + std::string(50, 'x')));
    const auto reply = c.read_response();
    REQUIRE(reply);
    CHECK(reply->body == "POST /x 50");
  }
  SECTION("a known caller's large body is read") {
    RawConnection c(running.port());
    REQUIRE(c.send("POST /x HTTP/1.1\r\nHost: t\r\nAuthorization: yes\r\nContent-Length: 5000\r\n\r\n" +
                   std::string(5000, 'x')));
    const auto reply = c.read_response();
    REQUIRE(reply);
    CHECK(reply->body == "POST /x 5000");
  }
  SECTION("a stranger's chunked body is cut at the limit") {
    RawConnection c(running.port());
    c.send("POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n100\r\n" +
           std::string(0x100, 'x') + "\r\n0\r\n\r\n");
    const auto reply = c.read_response();
    REQUIRE(reply);
    CHECK(reply->status == 413);
  }
}

TEST_CASE("http: connections beyond max_connections get 503 with Retry-After, a freed slot serves again",
          "[http]") {
  auto options = small_options();
  options.max_connections = 2;
  Running running(options);
  auto a = std::make_unique<RawConnection>(running.port());
  RawConnection b(running.port());
  for (RawConnection* c : {a.get(), &b}) {
    REQUIRE(c->send(get("/held")));
    REQUIRE(c->read_response());
  }
  RawConnection third(running.port());
  third.send(get("/third"));
  const auto refused = third.read_response();
  REQUIRE(refused);
  CHECK(refused->status == 503);
  CHECK(refused->header("retry-after") == "1");
  CHECK(third.closed_by_server());

  a.reset();  // frees a slot once the server has seen the close
  std::optional<RawResponse> served;
  for (int attempt = 0; attempt < 50 && !(served && served->status == 200); ++attempt) {
    std::this_thread::sleep_for(20ms);
    RawConnection next(running.port());
    next.send(get("/next"));
    served = next.read_response();
  }
  REQUIRE(served);
  CHECK(served->status == 200);
}

TEST_CASE("http: stop() ends the accept loop and closes idle and refused connections", "[http]") {
  auto options = small_options();
  options.max_connections = 1;
  Running running(options);
  RawConnection idle(running.port());
  REQUIRE(idle.send(get("/idle")));
  REQUIRE(idle.read_response());
  RawConnection refused(running.port());
  const auto begun = std::chrono::steady_clock::now();
  running.server->stop();
  CHECK(std::chrono::steady_clock::now() - begun < 4s);
  CHECK(idle.closed_by_server(1s));
}

// Issue 16: while PostgreSQL was down, the service's deploy check logged a line every second.
TEST_CASE("service: a background task logs a database outage when it starts and when it ends, with how long it lasted",
          "[http][outage]") {
  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(100);
  onevisit::server::OutageLog log("deploys: looking for new versions", std::make_shared<spdlog::logger>("outage-test", sink));
  using namespace std::chrono_literals;
  const auto start = onevisit::server::OutageLog::Clock::now();
  log.succeeded(start);  // all well: nothing to say
  CHECK(sink->last_formatted().empty());
  for (int second = 0; second < 30; ++second) {
    log.failed(start + std::chrono::seconds(1 + second), "cannot connect to PostgreSQL (postgresql://onevisit@/postgres)");
  }
  CHECK(log.in_outage());
  REQUIRE(sink->last_formatted().size() == 1);
  CHECK_THAT(sink->last_formatted().front(), Catch::Contains("deploys: looking for new versions failed: cannot connect"));
  log.succeeded(start + 31s);
  log.succeeded(start + 32s);
  CHECK_FALSE(log.in_outage());
  const auto lines = sink->last_formatted();
  REQUIRE(lines.size() == 2);
  CHECK_THAT(lines.back(), Catch::Contains("works again after 30.0 s (30 failed attempts)"));
  // The next outage is told again.
  log.failed(start + 40s, "server closed the connection unexpectedly");
  CHECK(sink->last_formatted().size() == 3);
}
