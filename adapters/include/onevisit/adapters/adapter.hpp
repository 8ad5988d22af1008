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
// be safe to call from the dispatcher's thread. The Dispatcher itself is used by one thread.
#pragma once

#include <onevisit/engine/store.hpp>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>

namespace onevisit::adapters {

struct AdapterCall {
  std::string idempotency_key;  ///< case/item/event sequence/action: stable across attempts
  std::string case_id;
  std::string department;
  std::string system;           ///< the adapter name the workflow gave the department
  std::string operation;        ///< e.g. submit, notify, escalate
  std::string payload;          ///< JSON
  int attempt = 1;              ///< 1 for the first attempt
};

struct AdapterResult {
  enum class Status {
    delivered,  ///< the department has it (also when it had it already)
    retry,      ///< a passing failure: try again later
    rejected,   ///< the department refuses the call for good: park it for a clerk
  };
  Status status = Status::delivered;
  std::string message;
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

/// Masks every resident ID number (18 characters, checksum valid) and mainland mobile number
/// (11 digits) inside a text, keeping the first 3 and last 2 characters.
std::string mask_identifiers(std::string_view text);

struct DispatchOptions {
  int max_attempts = 8;
  std::chrono::milliseconds first_backoff{1000};
  std::chrono::milliseconds max_backoff{10 * 60 * 1000};
  std::size_t batch = 256;
  std::uint64_t seed = 0;  ///< for the jitter; 0: random
};

struct DispatchReport {
  std::size_t delivered = 0;
  std::size_t retried = 0;
  std::size_t parked = 0;
};

/// Drains the outbox of a store through the registry's adapters.
class Dispatcher {
 public:
  Dispatcher(engine::Store& store, const AdapterRegistry& registry, DispatchOptions options = {});
  /// Delivers every call due at `now` once. A call whose system has no adapter is parked
  /// with that reason at once (configuration error, not a passing failure).
  std::expected<DispatchReport, engine::StoreError> drain_once(engine::Timestamp now);
  /// The delay before attempt `attempt + 1`: exponential from first_backoff, capped, with
  /// full jitter in its upper half so retries of many calls spread out.
  std::chrono::milliseconds backoff(int attempt);

 private:
  engine::Store& store_;
  const AdapterRegistry& registry_;
  DispatchOptions options_;
  std::mt19937_64 random_;
};

}  // namespace onevisit::adapters
