#include <catch2/catch.hpp>

#include <onevisit/adapters/adapter.hpp>
#include <onevisit/engine/engine.hpp>

#include <map>

using namespace onevisit;
using namespace onevisit::adapters;
using engine::Timestamp;

namespace {

// Answers `retry` for the first `failures` attempts of every call, then delivers; counts
// effects per idempotency key as a department system would.
class FlakyAdapter final : public Adapter {
 public:
  explicit FlakyAdapter(int failures, AdapterResult::Status failure = AdapterResult::Status::retry) : failures_(failures), failure_(failure) {}
  AdapterResult submit(const AdapterCall& call) override {
    ++attempts[call.idempotency_key];
    payloads[call.idempotency_key] = call.payload;
    if (attempts[call.idempotency_key] <= failures_) return {failure_, "department system unavailable"};
    ++effects[call.idempotency_key];
    return {AdapterResult::Status::delivered, "ok"};
  }
  std::map<std::string, int> attempts, effects;
  std::map<std::string, std::string> payloads;

 private:
  int failures_;
  AdapterResult::Status failure_;
};

engine::CommitRequest request_with_outbox(const std::string& case_id, const std::string& system) {
  engine::CommitRequest r;
  r.command_id = "cmd-" + case_id;
  r.case_id = case_id;
  r.events.push_back(engine::StoredEvent{1, "CaseStarted", "{}", 0});
  r.snapshot = "{}";
  r.summary.case_id = case_id;
  r.summary.bundle_id = "b";
  r.summary.bundle_version = 1;
  r.summary.status = "running";
  r.summary.version = 1;
  engine::OutboxRecord o;
  o.idempotency_key = case_id + "/item/1/0";
  o.case_id = case_id;
  o.department = "tax";
  o.adapter = system;
  o.operation = "submit";
  o.payload = R"({"legal_rep_id":"11010519491231002X","phone":"13812345678"})";
  r.outbox.push_back(o);
  return r;
}

}  // namespace

TEST_CASE("adapters: identifiers are masked in payloads", "[adapters]") {
  CHECK(mask_identifiers(R"({"id":"11010519491231002X","phone":"13812345678"})") == R"({"id":"110*************2X","phone":"138******78"})");
  CHECK(mask_identifiers("code 330217001000 and 340524198001010013") == "code 330217001000 and 340524198001010013");
  CHECK(mask_identifiers("电话13812345678。") == "电话138******78。");
  // Issue 17: it is the one detector now — phones with +86, separators or full-width digits,
  // old ID numbers, credit codes — and what it returns is valid UTF-8.
  CHECK(mask_identifiers("请回电 +86 138 1234 5678") == "请回电 +86 138 **** **78");
  CHECK(mask_identifiers("１３８１２３４５６７８") == "１３８******７８");
  CHECK(mask_identifiers("旧证 110105491231002，代码 91350100M000100Y43") == "旧证 110**********02，代码 913*************43");
  CHECK(mask_identifiers("张\xe4\xb8") == "张\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST_CASE("adapters: at-least-once delivery with backoff, parking after the last attempt", "[adapters]") {
  auto store = engine::make_memory_store();
  REQUIRE(store->commit(request_with_outbox("c1", "tax_gateway")));
  REQUIRE(store->commit(request_with_outbox("c2", "unknown_system")));
  auto flaky = std::make_shared<FlakyAdapter>(2);
  AdapterRegistry registry;
  registry.add("tax_gateway", flaky);
  Dispatcher dispatcher(*store, registry, {.max_attempts = 5, .first_backoff = std::chrono::milliseconds(1000), .seed = 7});
  Timestamp now = 1'000'000;
  auto report = dispatcher.drain_once(now);
  REQUIRE(report);
  CHECK(report->retried == 1);
  CHECK(report->parked == 1);  // no adapter for the system: a configuration error
  // Not due again before the backoff has passed.
  report = dispatcher.drain_once(now + 100);
  REQUIRE(report);
  CHECK(report->retried + report->delivered == 0);
  for (int i = 0; i < 5 && flaky->effects.empty(); ++i) {
    now += 60'000;
    REQUIRE(dispatcher.drain_once(now));
  }
  CHECK(flaky->attempts["c1/item/1/0"] == 3);
  CHECK(flaky->effects["c1/item/1/0"] == 1);  // exactly once in effect
  auto left = store->pending_outbox(now + 10'000'000, 10);
  REQUIRE(left);
  CHECK(left->empty());

  // A department that keeps failing: parked after max_attempts.
  auto store2 = engine::make_memory_store();
  REQUIRE(store2->commit(request_with_outbox("c3", "tax_gateway")));
  auto down = std::make_shared<FlakyAdapter>(100);
  AdapterRegistry registry2;
  registry2.add("tax_gateway", down);
  Dispatcher dispatcher2(*store2, registry2, {.max_attempts = 3, .first_backoff = std::chrono::milliseconds(10), .seed = 1});
  std::size_t parked = 0;
  for (int i = 0; i < 10; ++i) {
    auto r = dispatcher2.drain_once(now + i * 3'600'000);
    REQUIRE(r);
    parked += r->parked;
  }
  CHECK(parked == 1);
  CHECK(down->attempts["c3/item/1/0"] == 3);
}

TEST_CASE("adapters: notices delivered for a department do not close the circuit its own system opened", "[adapters][breaker]") {
  // Regression (issue 15): the applicant's text messages (adapter `notify`) carry the item's
  // department; delivered ones reset that department's breaker while its own system was down,
  // so the circuit never opened.
  auto store = engine::make_memory_store();
  for (int i = 0; i < 6; ++i) {
    auto r = request_with_outbox("c" + std::to_string(i), "tax_gateway");
    engine::OutboxRecord notice = r.outbox.front();
    notice.idempotency_key = r.case_id + "/item/1/1";
    notice.adapter = "notify";
    notice.operation = "notify";
    r.outbox.push_back(notice);
    REQUIRE(store->commit(r));
  }
  auto down = std::make_shared<FlakyAdapter>(100);
  auto sms = std::make_shared<FlakyAdapter>(0);
  AdapterRegistry registry;
  registry.add("tax_gateway", down);
  registry.add("notify", sms);
  Dispatcher dispatcher(*store, registry, {.max_attempts = 50, .first_backoff = std::chrono::milliseconds(10), .seed = 3, .workers = 1,
                                           .breaker_threshold = 3, .breaker_cooldown = std::chrono::milliseconds(60'000)});
  const Timestamp now = 1'000'000;
  REQUIRE(dispatcher.drain_once(now));
  CHECK(sms->effects.size() == 6);  // the text messages went out
  CHECK(dispatcher.circuit_open("tax", now));
  // While it is open, the department's calls are held back, not attempted.
  const auto attempts = down->attempts;
  REQUIRE(dispatcher.drain_once(now + 100));
  CHECK(down->attempts == attempts);
}

TEST_CASE("adapters: backoff grows exponentially with jitter, capped", "[adapters]") {
  auto store = engine::make_memory_store();
  AdapterRegistry registry;
  Dispatcher d(*store, registry, {.max_attempts = 10, .first_backoff = std::chrono::milliseconds(1000),
                                  .max_backoff = std::chrono::milliseconds(60'000), .seed = 3});
  for (int attempt = 1; attempt <= 10; ++attempt) {
    const auto base = std::min<std::int64_t>(60'000, 1000LL << (attempt - 1));
    const auto b = d.backoff(attempt).count();
    CHECK(b >= base / 2);
    CHECK(b <= base);
  }
}

TEST_CASE("adapters: the engine's transitions reach the department once", "[adapters][engine]") {
  const std::string flow = R"(
lifecycle standard {
  state submitted initial; state approved final
  on approve: submitted -> approved by clerk do call(dept.submit), notify(applicant, "已办结")
}
department tax "税务局" adapter tax_gateway
bundle b "发票" version 1 { lifecycle standard; form { legal_rep_id: idcard required }; item invoice "发票申领" by tax { limit 1 workday; sends legal_rep_id } }
)";
  engine::VirtualClock clock(1'800'000'000'000);
  // The test keeps the store: the dispatcher drains its outbox.
  std::shared_ptr<engine::Store> store = engine::make_memory_store();
  auto opened = engine::Engine::open({.database = ":memory:", .clock = &clock, .store = store});
  REQUIRE(opened);
  REQUIRE((*opened)->deploy_sources({{"b.flow", flow}}, {"b.flow"}));
  auto started = (*opened)->start_case("b", {{"legal_rep_id", dsl::Value::of_text("11010519491231002X")}}, "", {"s1", "u", "clerk"});
  REQUIRE(started);
  REQUIRE((*opened)->execute(started->case_id, engine::FireEvent{"invoice", "approve", {}}, {"a1", "u", "clerk"}));
  // A retried command adds no second call.
  REQUIRE((*opened)->execute(started->case_id, engine::FireEvent{"invoice", "approve", {}}, {"a1", "u", "clerk"}));
  auto department = std::make_shared<FlakyAdapter>(1);
  AdapterRegistry registry;
  registry.add("tax_gateway", department);
  registry.add("notify", std::make_shared<LogAdapter>());
  Dispatcher dispatcher(*store, registry, {.first_backoff = std::chrono::milliseconds(1), .seed = 5});
  for (int i = 0; i < 5; ++i) REQUIRE(dispatcher.drain_once(clock.now() + i * 1000));
  REQUIRE(department->effects.size() == 1);
  // The department got the value the item sends.
  CHECK(department->payloads.begin()->second.find(R"("fields":{"legal_rep_id":"11010519491231002X"})") != std::string::npos);
  CHECK(department->effects.begin()->second == 1);
  CHECK(department->effects.begin()->first.starts_with(started->case_id + "/invoice/"));
}

// An answer that comes with a call's response is sent by the system called: the handler gets
// that system (and its department) as the sender, and an answer naming another case is refused
// before it reaches the handler (issue 17 #1: nobody answers for another case's items).
TEST_CASE("adapters: an answer in a response is from the system called, and only for its call's case", "[adapters][receipts]") {
  class AnsweringAdapter final : public Adapter {
   public:
    explicit AnsweringAdapter(std::string case_id) : case_id_(std::move(case_id)) {}
    AdapterResult submit(const AdapterCall& call) override {
      Receipt receipt;
      receipt.request_id = call.idempotency_key;
      receipt.case_id = case_id_;
      receipt.status = Receipt::Status::approved;
      return {AdapterResult::Status::delivered, "ok", receipt};
    }

   private:
    std::string case_id_;
  };
  auto store = engine::make_memory_store();
  REQUIRE(store->commit(request_with_outbox("c1", "tax_gateway")));
  REQUIRE(store->commit(request_with_outbox("c2", "other_gateway")));
  AdapterRegistry registry;
  registry.add("tax_gateway", std::make_shared<AnsweringAdapter>("c1"));
  registry.add("other_gateway", std::make_shared<AnsweringAdapter>("c1"));  // answers c2's call for c1
  Dispatcher dispatcher(*store, registry, {.max_attempts = 1});
  std::vector<std::pair<std::string, ReceiptSender>> handled;
  dispatcher.on_result([&](const Receipt& receipt, const ReceiptSender& sender) -> std::expected<void, ResultError> {
    handled.emplace_back(receipt.case_id, sender);
    return {};
  });
  auto report = dispatcher.drain_once(1'000'000);
  REQUIRE(report);
  CHECK(report->delivered == 1);
  CHECK(report->parked == 1);
  REQUIRE(handled.size() == 1);
  CHECK(handled[0].first == "c1");
  CHECK(handled[0].second.system == "tax_gateway");
  CHECK(handled[0].second.department == "tax");
  auto parked = store->list_outbox("c2", "parked", 10);
  REQUIRE(parked);
  REQUIRE(parked->size() == 1);
  CHECK(parked->front().last_error.find("answer_for_other_case") != std::string::npos);
}

// Issue 14: what a parked call says reaches a clerk (the case page's 部门系统调用): Chinese,
// saying what happened, with a machine-readable code kept; the English detail is the log's.
TEST_CASE("adapters: a parked call tells the clerk in Chinese why, with a code kept", "[adapters][receipts]") {
  class Answering final : public Adapter {
   public:
    Answering(std::string request, std::string case_id, bool throws = false) : request_(std::move(request)), case_(std::move(case_id)), throws_(throws) {}
    AdapterResult submit(const AdapterCall& call) override {
      if (throws_) throw std::runtime_error("plugin crashed");
      Receipt receipt;
      receipt.request_id = request_.empty() ? call.idempotency_key : request_;
      receipt.case_id = case_;
      receipt.status = Receipt::Status::approved;
      return {AdapterResult::Status::delivered, "ok", receipt};
    }

   private:
    std::string request_, case_;
    bool throws_;
  };
  auto store = engine::make_memory_store();
  REQUIRE(store->commit(request_with_outbox("c1", "nowhere")));          // no adapter for it
  REQUIRE(store->commit(request_with_outbox("c2", "other_request")));    // answers another call
  REQUIRE(store->commit(request_with_outbox("c3", "other_case")));       // answers for another case
  REQUIRE(store->commit(request_with_outbox("c4", "refused")));          // its answer is refused
  REQUIRE(store->commit(request_with_outbox("c5", "crashing")));         // the adapter throws
  AdapterRegistry registry;
  registry.add("other_request", std::make_shared<Answering>("c2/elsewhere/1/0", ""));
  registry.add("other_case", std::make_shared<Answering>("", "c9"));
  registry.add("refused", std::make_shared<Answering>("", ""));
  registry.add("crashing", std::make_shared<Answering>("", "", true));
  Dispatcher dispatcher(*store, registry, {.max_attempts = 1});
  dispatcher.on_result([&](const Receipt&, const ReceiptSender&) -> std::expected<void, ResultError> {
    return std::unexpected(ResultError{true, "item registration does not produce material 'x'"});
  });
  REQUIRE(dispatcher.drain_once(1'000'000));
  const std::map<std::string, std::string> codes = {{"c1", "no_adapter"}, {"c2", "answer_for_other_request"}, {"c3", "answer_for_other_case"},
                                                    {"c4", "receipt_refused"}, {"c5", "adapter_failed"}};
  for (const auto& [case_id, code] : codes) {
    auto parked = store->list_outbox(case_id, "parked", 10);
    REQUIRE(parked);
    REQUIRE(parked->size() == 1);
    const auto& said = parked->front().last_error;
    INFO(case_id << ": " << said);
    CHECK(said.find("部门系统") != std::string::npos);
    CHECK(said.find("（" + code + "）") != std::string::npos);
    // No English sentence beside the code: that is the log's.
    CHECK(said.find("the ") == std::string::npos);
    CHECK(said.find("plugin crashed") == std::string::npos);
  }
}
