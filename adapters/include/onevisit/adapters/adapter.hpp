// Department adapters: how the engine's adapter-call intents (the store's outbox) reach each
// department's own system.
//
// An Adapter delivers one call; the Dispatcher drains the outbox: at-least-once delivery
// with the call's idempotency key (the same on every attempt, so a department that sees a
// call twice can apply it once), exponential backoff with jitter between attempts, and a
// maximum number of attempts after which the call is parked for a clerk to retry or resolve.
//
// Which adapter serves which department is deployment configuration: the workflow names a
// system (`department tax ... adapter tax_gateway`) and the registry maps that name to an
// Adapter instance.
//
// Thread safety: an AdapterRegistry is filled before use and then only read; Adapters must
// be safe to call from several threads at once (the dispatcher's lanes). The Dispatcher
// itself is driven by one thread (drain_once), which it fans out to its lanes.
#pragma once

#include <onevisit/engine/store.hpp>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <string>

namespace boost::asio {
class thread_pool;  // the dispatcher's workers (Boost.Asio stays out of this header)
}

namespace onevisit::adapters {

struct AdapterCall {
  std::string idempotency_key;  ///< case/item/event sequence/action: stable across attempts
  std::string case_id;
  std::string department;
  std::string system;           ///< the adapter name the workflow gave the department
  std::string operation;        ///< e.g. submit, notify, escalate
  std::string payload;          ///< JSON
  int attempt = 1;              ///< 1 for the first attempt
  /// The department took the call earlier and said it would answer later: ask for the
  /// answer (http: GET <url>/<operation>/<key>) instead of sending the call again.
  bool awaiting_answer = false;
};

/// A department's answer to one call: by the call's response (http), by a receipt file
/// (xml-exchange), or by a callback. apply_result (results.hpp) turns it into case commands.
struct Receipt {
  enum class Status { accepted, correction_required, approved, rejected };
  std::string request_id;  ///< the idempotency key of the call it answers
  std::string case_id;
  std::string item;        ///< the item in the bundle; empty: taken from the request id
  std::string from;        ///< the department's node or system name
  Status status = Status::accepted;
  std::string reason;      ///< required for rejected and correction_required
  struct Document {
    std::string material;     ///< the material the result produces
    std::string elicense_id;  ///< 电子证照标识, when the document is an e-license
    std::string file_name;
    std::string content;      ///< the document's bytes (may be empty when elicense_id is set)
  };
  std::vector<Document> documents;
  std::filesystem::path file;  ///< for receipt files: where it was read from
};

/// Who sent a receipt, as the way it arrived authenticates it, never as the receipt's own
/// `from` says: the system called (an answer in the call's response), the system configured
/// for the exchange folder it was read from, or the department system account whose API
/// token posted it. apply_result lets a sender answer only its own department's items (or
/// calls) and attach only what the answering item produces; the history names the sender.
struct ReceiptSender {
  std::string system;  ///< the system's name (or the account's); the actor is "system:<system>"
  /// The department the sender is bound to (an account's). Empty: the departments whose
  /// workflow `adapter` is `system`.
  std::string department;
};

std::string_view to_string(Receipt::Status status);
/// Parses a department's answer in JSON (the http adapter's response `result`, a callback
/// body): {"request_id", "case", "item", "from", "status", "reason", "documents": [{"material",
/// "file", "content_base64" | "elicense_id"}]}.
std::expected<Receipt, std::string> parse_receipt_json(std::string_view text);

/// Base64 (standard alphabet; whitespace between groups allowed when decoding).
std::expected<std::string, std::string> decode_base64(std::string_view encoded);
std::string encode_base64(std::string_view bytes);
/// "APPROVED" -> approved, ...; nullopt for anything else.
std::optional<Receipt::Status> receipt_status(std::string_view text);
/// The rules a receipt keeps whatever format it came in (JSON or an exchange file): a
/// REJECTED or CORRECTION_REQUIRED result has a reason (`reason_field`, as the format names
/// it, for the error). The error, or nullopt.
std::optional<std::string> check_receipt_reason(const Receipt& receipt, std::string_view reason_field);
/// A receipt's document from the parts its format carries: it must name a material and carry
/// its content (base64, decoded here) or an e-license id.
std::expected<Receipt::Document, std::string> receipt_document(std::string material, std::string elicense_id,
                                                               std::string file_name,
                                                               std::string_view content_base64);

struct AdapterResult {
  enum class Status {
    delivered,  ///< the department has it (also when it had it already)
    retry,      ///< a passing failure: try again later
    rejected,   ///< the department refuses the call for good: park it for a clerk
    awaiting,   ///< the department has the call and answers later: ask again (polling)
  };
  Status status = Status::delivered;
  std::string message;
  std::optional<Receipt> receipt;  ///< when the department answered with its result at once
};

class Adapter {
 public:
  virtual ~Adapter() = default;
  virtual AdapterResult submit(const AdapterCall& call) = 0;
};

/// Adapter instances by system name.
class AdapterRegistry {
 public:
  void add(std::string system, std::shared_ptr<Adapter> adapter) { adapters_[std::move(system)] = std::move(adapter); }
  Adapter* find(std::string_view system) const {
    const auto it = adapters_.find(system);
    return it == adapters_.end() ? nullptr : it->second.get();
  }

 private:
  std::map<std::string, std::shared_ptr<Adapter>, std::less<>> adapters_;
};

/// Writes every call to the log (spdlog), with ID and phone numbers in the payload masked.
/// The built-in `notify` system when no SMS gateway is configured.
class LogAdapter final : public Adapter {
 public:
  AdapterResult submit(const AdapterCall& call) override;
};

/// Masks every ID, credit-code and phone number in a text: dsl::mask_personal_numbers, the one
/// detector every view, log line and error message uses. The result is valid UTF-8.
std::string mask_identifiers(std::string_view text);

/// Why a department's answer could not be applied to its case.
struct ResultError {
  bool permanent = true;  ///< false: a passing failure (store busy); try again later
  /// Why. For a passing failure, Chinese for the people who read the answer's refusal (the
  /// department system's operator, the clerk's call list); what failed underneath is `detail`.
  std::string message;
  /// The sender may not give this answer (another department's item, a document its item
  /// does not produce, a `from` naming someone else). Always permanent.
  bool not_allowed = false;
  /// What failed underneath, in English for the log (a passing failure's store error); may be empty.
  std::string detail;
};

struct DispatchOptions {
  int max_attempts = 8;
  std::chrono::milliseconds first_backoff{1000};
  std::chrono::milliseconds max_backoff{10 * 60 * 1000};
  std::size_t batch = 256;
  /// How long a round's calls stay claimed by this node (Store::claim_outbox): longer than
  /// a round takes, short enough that another node takes over soon after this one dies.
  std::chrono::milliseconds lease{5 * 60 * 1000};
  std::uint64_t seed = 0;  ///< for the jitter; 0: random
  /// Calls in flight at once. Calls of one case go through one lane, in outbox order.
  std::size_t workers = 8;
  /// Circuit breaker: after this many passing failures in a row from one department, its
  /// calls wait `breaker_cooldown`; then one probe call decides whether it is back.
  int breaker_threshold = 5;
  std::chrono::milliseconds breaker_cooldown{30 * 1000};
  /// How often to ask a department that answers later (HTTP 202) for its answer. Asking
  /// spends no attempts: a review may take days.
  std::chrono::milliseconds poll_interval{60 * 1000};
};

struct DispatchReport {
  std::size_t delivered = 0;
  std::size_t retried = 0;
  std::size_t parked = 0;
  std::size_t deferred = 0;  ///< held back by an open circuit breaker (no attempt counted)
  std::size_t results = 0;   ///< department answers applied to cases
  std::size_t awaiting = 0;  ///< calls whose department answers later (asked again later)
};

/// Drains the outbox of a store through the registry's adapters.
class Dispatcher {
 public:
  /// Applies a department's answer that came with the call's response (see results.hpp); the
  /// sender is the system the call went to.
  using ResultHandler = std::function<std::expected<void, ResultError>(const Receipt&, const ReceiptSender&)>;

  Dispatcher(engine::Store& store, const AdapterRegistry& registry, DispatchOptions options = {});
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  /// Where answers that come with a response go. Without one they are logged and dropped.
  void on_result(ResultHandler handler) { result_handler_ = std::move(handler); }

  /// Delivers every call due at `now` once, `workers` at a time. A call whose system has no
  /// adapter is parked with that reason at once (configuration error, not a passing
  /// failure). An answer that comes with the response is applied before the call counts as
  /// delivered, so a crash in between re-sends the call and the department's repeated answer
  /// is applied once.
  std::expected<DispatchReport, engine::StoreError> drain_once(engine::Timestamp now);
  /// The delay before attempt `attempt + 1`: exponential from first_backoff, capped, with
  /// full jitter in its upper half so retries of many calls spread out.
  std::chrono::milliseconds backoff(int attempt);
  /// True while the department's breaker holds its calls back at `now`.
  bool circuit_open(const std::string& department, engine::Timestamp now) const;

 private:
  struct Breaker {
    int failures = 0;
    engine::Timestamp open_until = 0;
    bool probing = false;
  };
  std::chrono::milliseconds backoff_locked(int attempt);  // REQUIRES: mutex_ held
  void deliver(engine::OutboxRecord& record, engine::Timestamp now, DispatchReport& report, std::vector<engine::OutboxRecord>& updates);

  engine::Store& store_;
  const AdapterRegistry& registry_;
  DispatchOptions options_;
  ResultHandler result_handler_;
  mutable std::mutex mutex_;  ///< guards random_, breakers_ and the report while lanes run
  std::mt19937_64 random_;
  std::map<std::string, Breaker> breakers_;
  std::unique_ptr<boost::asio::thread_pool> pool_;
};

/// The last_error text that marks a pending call as waiting for the department's answer.
inline constexpr std::string_view kAwaitingAnswer = "awaiting the department's answer";

/// A parked call back to pending, due at `now`, with its attempts counted from zero.
std::expected<void, engine::StoreError> retry_parked(engine::Store& store, engine::OutboxRecord parked, engine::Timestamp now);
/// A parked call closed by hand (the clerk settled it with the department another way).
std::expected<void, engine::StoreError> resolve_parked(engine::Store& store, engine::OutboxRecord parked, std::string_view note);

}  // namespace onevisit::adapters
