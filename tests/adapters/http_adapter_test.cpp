// The http adapter against a small department server on loopback (Boost.Beast) that answers
// from a script: 500s, slow answers, a 409 for a key it has seen, a 422 refusal.
#include <catch2/catch.hpp>

#include <onevisit/adapters/config.hpp>
#include <onevisit/adapters/http_adapter.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <thread>

using namespace onevisit::adapters;
namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;

namespace {

struct Answer {
  unsigned status = 200;
  std::chrono::milliseconds delay{0};
};

// Serves one connection at a time; applies a request (counts an effect) when it answers 2xx
// for a key not seen before, and answers 409 for a key already applied.
class Department {
 public:
  Department() : acceptor_(io_, {asio::ip::make_address("127.0.0.1"), 0}) {
    thread_ = std::thread([this] { serve(); });
  }
  ~Department() {
    stop_ = true;
    boost::system::error_code ec;
    asio::ip::tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ec);  // wake accept()
    thread_.join();
  }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port()) + "/api/tax/"; }
  void script(std::deque<Answer> answers) {
    std::lock_guard lock(mutex_);
    answers_ = std::move(answers);
  }
  int effects(const std::string& key) {
    std::lock_guard lock(mutex_);
    return effects_[key];
  }
  std::string last_target, last_authorization, last_body;

 private:
  void serve() {
    while (!stop_) {
      asio::ip::tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stop_) return;
      beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(socket, buffer, request, ec);
      if (ec) continue;
      Answer answer;
      {
        std::lock_guard lock(mutex_);
        if (!answers_.empty()) {
          answer = answers_.front();
          answers_.pop_front();
        }
        last_target = std::string(request.target());
        last_authorization = std::string(request[http::field::authorization]);
        last_body = request.body();
        const std::string key(request["Idempotency-Key"]);
        if (answer.status / 100 == 2) {
          if (effects_[key] > 0) answer.status = 409;
          else ++effects_[key];
        }
      }
      std::this_thread::sleep_for(answer.delay);
      http::response<http::string_body> response{static_cast<http::status>(answer.status), 11};
      response.body() = answer.status == 422 ? "统一社会信用代码与名称不符" : "{}";
      response.prepare_payload();
      http::write(socket, response, ec);
    }
  }

  asio::io_context io_;
  asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::deque<Answer> answers_;
  std::map<std::string, int> effects_;
};

AdapterCall call(std::string key) { return {std::move(key), "C1", "tax", "tax_gateway", "submit", R"({"company":"一件事"})", 1}; }

}  // namespace

TEST_CASE("http adapter: delivered, retried, refused, timed out, applied once", "[adapters][http]") {
  Department department;
  auto endpoint = HttpEndpoint::parse(department.url());
  REQUIRE(endpoint);
  HttpAdapter adapter(*endpoint, std::chrono::milliseconds(300), "secret-token");

  department.script({{500}, {200}, {200}});
  CHECK(adapter.submit(call("k1")).status == AdapterResult::Status::retry);
  CHECK(adapter.submit(call("k1")).status == AdapterResult::Status::delivered);
  CHECK(adapter.submit(call("k1")).status == AdapterResult::Status::delivered);  // answered 409: seen before
  CHECK(department.effects("k1") == 1);
  CHECK(department.last_target == "/api/tax/submit");
  CHECK(department.last_authorization == "Bearer secret-token");
  CHECK(department.last_body.find(R"("idempotency_key":"k1")") != std::string::npos);
  CHECK(department.last_body.find(R"("payload":{"company":"一件事"})") != std::string::npos);

  department.script({{422}});
  const auto refused = adapter.submit(call("k2"));
  CHECK(refused.status == AdapterResult::Status::rejected);
  CHECK(refused.message.find("统一社会信用代码") != std::string::npos);

  department.script({{200, std::chrono::milliseconds(800)}});
  CHECK(adapter.submit(call("k3")).status == AdapterResult::Status::retry);  // too slow
  // The department applied it anyway; the retry (once it is free again) is answered 409
  // and counts as delivered.
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  department.script({{200}});
  CHECK(adapter.submit(call("k3")).status == AdapterResult::Status::delivered);
  CHECK(department.effects("k3") == 1);
}

TEST_CASE("http adapter: nobody listening is a retry, bad URLs are refused", "[adapters][http]") {
  HttpAdapter adapter(HttpEndpoint{"127.0.0.1", "1", ""}, std::chrono::milliseconds(200));
  CHECK(adapter.submit(call("k")).status == AdapterResult::Status::retry);
  CHECK(!HttpEndpoint::parse("ftp://x/y"));
  CHECK(!HttpEndpoint::parse("not a url"));
  const auto e = HttpEndpoint::parse("http://10.1.2.3:8080/api/");
  REQUIRE(e);
  CHECK(e->port == "8080");
  CHECK(e->base_path == "/api");
  auto config = parse_adapter_config("[systems.t]\nkind = \"http\"\nurl = \"http://127.0.0.1:9/x\"\ntoken_env = \"ONEVISIT_TEST_UNSET_TOKEN\"\n");
  REQUIRE(!config);
  CHECK(config.error().find("ONEVISIT_TEST_UNSET_TOKEN") != std::string::npos);
}
