// The department-system simulator: plays the departments' own IT systems for tests, benchmarks
// and the demo, so the engine's delivery can be proven against systems that misbehave.
//
// One process serves, on one HTTP port:
//   POST /dept/<system>/<operation>   a department's REST endpoint (the `http` adapter)
//   GET  /dept/<system>/<operation>/<key>   its answer to a call it took earlier (polling)
//   GET  /elicense/licenses?type=&holder=   the e-license library
//   GET  /elicense/registrations?uscc=      a company's registration, from the same library
//   POST /sms/send                     the SMS gateway: records each message (once per reference)
//   GET  /sms/messages?phone=          the messages sent to a number, oldest first (tests read
//                                      login codes and notices here, as a phone would)
//   GET  /oidc/authorize               the identity platform (OpenID Connect): logs the configured
//                                      person in at once and redirects back with a code
//   POST /oidc/token                   redeems a code once for an ID token signed RS256 (or HS256)
//   GET  /oidc/jwks                    the platform's RS256 public keys (a JWKS)
//   POST /oidc/control                 change the person, the token's lifetime or a fault
//   GET  /stats                        what each department received and applied (JSON)
//   POST /control                      change a department's behaviour while running (JSON)
//   GET  /idreader/read                a window PC's ID-card reader (when enabled, see IdReader)
//   GET  /idreader/signed-read?nonce=  a kiosk's card-reader agent: the card signed with the
//                                      device key; GET /idreader/device: its id and public key
//   POST /idreader/control             change the reader's card, failure or allowed origins
// and, for each exchange folder it is given, a worker that takes request files from out/ and
// answers with receipt files in in/ (the xml-exchange adapter, docs/exchange.md).
//
// Each department has a behaviour: latency, a share of 500 answers, a share of calls it
// applies but answers too late (timeouts), whether it answers twice (a duplicate receipt),
// and downtime (connections closed without an answer). Whatever it does, it counts effects
// per idempotency key the way a well-behaved department system would: the first call with a
// key takes effect, later ones are answered "seen before" (409) and change nothing. The
// counts prove exactly-once effect.
//
// Thread safety: all public members may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace onevisit::deptsim {

struct Behaviour {
  std::chrono::milliseconds latency{0};
  double error_rate = 0;   ///< share of calls answered 500 without taking effect
  double hang_rate = 0;    ///< share of calls applied but answered after `hang`
  std::chrono::milliseconds hang{3000};
  bool down = false;       ///< connections closed without an answer
  bool duplicate = false;  ///< every answer is given twice (exchange: two receipt files)
  /// What the department answers: "APPROVED" (with the documents the call asks for),
  /// "REJECTED" or "CORRECTION_REQUIRED" (with a reason), or "" for a bare acknowledgement.
  std::string verdict = "APPROVED";
  /// Answers later: the call is taken (202 Accepted) and each of the next this-many questions
  /// about it (GET /dept/<system>/<operation>/<key>) is answered 202 before the verdict.
  int answer_after_polls = 0;
};

/// The card an ID-card reader reads (docs/adapters.md, "The ID-card reader at the window").
struct IdCard {
  std::string name = "王小明";
  std::string sex = "男";
  std::string nation = "汉";
  std::string birth_date = "1990-03-07";  ///< YYYY-MM-DD
  std::string address = "浙江省杭州市西湖区文三路100号";
  std::string id_number = "330106199003070014";
  std::string issuer = "杭州市公安局西湖分局";
  std::string valid_from = "2020-05-01";  ///< YYYY-MM-DD
  std::string valid_to = "2040-05-01";    ///< YYYY-MM-DD, or "长期"
};

/// The reader simulator: serves the reader protocol the console's reader.js speaks, with CORS
/// for the console's origin, so a browser test reads a card through real HTTP.
struct IdReader {
  bool enabled = false;
  /// Origins whose pages may read (CORS); "*" allows any. Others get no CORS headers, so
  /// the browser refuses the answer, as a reader service that does not know the console would.
  std::vector<std::string> origins;
  IdCard card;
  /// "" reads the card; "no_reader", "no_card", "read_failed" answer that error; "offline"
  /// closes the connection without an answer (the reader's service is not running).
  std::string failure;
  /// The kiosk's card-reader agent (docs/applicant.md, "The kiosk"): GET /idreader/signed-read
  /// signs the card with this device's Ed25519 key, as a registered kiosk would; GET
  /// /idreader/device gives its id and public key, for the administrator to register.
  std::string kiosk = "kiosk-sim-01";
  /// 64 hex digits: the device key's seed (the same key at every start); empty: a new random
  /// key at each start.
  std::string kiosk_key_seed;
  /// A misbehaving agent for tests: "" signs honestly; "forged" signs with another key,
  /// "unsigned" sends no signature, "stale" dates the read an hour back.
  std::string signing;
};

/// The person the identity platform logs in (its ID token's claims).
struct OidcPerson {
  std::string subject = "zj-000001";
  std::string name = "王小明";
  std::string id_number = "330106199003070014";
};

/// The simulated identity platform (docs/applicant.md, "Real-name login"). Its ID tokens are
/// signed RS256 with a key made at each start (kid sim-1) and published at GET /oidc/jwks;
/// POST /oidc/control {"signing":"HS256"} signs them with the client secret instead, and
/// {"rotate_key":true} makes a new key (sim-2, …) sign, published beside the one before.
struct IdentityPlatform {
  std::string issuer = "https://id.example.gov.cn";
  std::string client_id = "onevisit";
  /// The documented test secret (never a real one): configure the service's client_secret_env
  /// with it.
  std::string client_secret = "onevisit-simulated-oidc-client-secret";
  OidcPerson person;
  std::int64_t token_lifetime_seconds = 300;
  /// A faulty platform for tests: "" signs honestly; "signature", "nonce", "issuer",
  /// "audience", "alg_none" give a token wrong in that way; "kid_unknown" signs with a key
  /// the JWKS does not hold, "hs256_public_key" signs HS256 with the public key as the secret.
  std::string fault;
};

/// A company's registration as the e-license library serves it (GET /elicense/registrations).
struct Registration {
  std::string uscc, name, legal_representative, address, type, capital, business_scope, established;
  std::string legal_representative_id;  ///< the legal representative's ID number
  std::vector<std::string> agents;      ///< ID numbers of its authorised agents
};

/// The companies the simulated library knows (valid credit codes; the first is the one
/// docs/api.md uses). Any other code is answered 404.
std::vector<Registration> default_registrations();

struct Options {
  std::string listen_address = "127.0.0.1";
  unsigned short port = 0;  ///< 0: any free port
  std::map<std::string, Behaviour> behaviours;  ///< by system (or exchange) name; "*" for all others
  std::map<std::string, std::filesystem::path> exchanges;  ///< exchange name -> folder root
  std::vector<std::string> missing_licenses;  ///< e-license types the library never has
  std::vector<Registration> registrations = default_registrations();  ///< companies' registrations it holds
  IdReader id_reader;
  IdentityPlatform identity_platform;
  std::uint64_t seed = 1;
  std::chrono::milliseconds exchange_poll{20};
};

/// A text message the SMS gateway took.
struct SentText {
  std::string phone;
  std::string text;
  std::string reference;
};

/// What one department saw.
struct DepartmentCounts {
  std::uint64_t calls = 0;       ///< requests received, repeats included
  std::uint64_t effects = 0;     ///< calls that took effect (first per key)
  std::uint64_t errors = 0;      ///< answered 500 (no effect)
  std::uint64_t timeouts = 0;    ///< applied but answered late
  std::uint64_t dropped = 0;     ///< closed without an answer while down
};

class Simulator {
 public:
  static std::expected<std::unique_ptr<Simulator>, std::string> start(Options options);
  ~Simulator();
  Simulator(const Simulator&) = delete;
  Simulator& operator=(const Simulator&) = delete;

  unsigned short port() const;
  std::string url() const;  ///< http://address:port
  void set_behaviour(const std::string& department, const Behaviour& behaviour);

  /// Effects per idempotency key (each must be 1), and repeats received per key.
  std::map<std::string, std::uint64_t> effects() const;
  std::map<std::string, std::uint64_t> received() const;
  std::map<std::string, DepartmentCounts> counts() const;
  /// The payload (JSON text) of the first call with each key: what the department received.
  std::map<std::string, std::string> payloads() const;
  std::uint64_t text_messages() const;
  /// The messages sent to `phone`, oldest first (a repeated reference once).
  std::vector<SentText> texts_to(const std::string& phone) const;
  /// Everything above as one JSON document (what GET /stats answers).
  std::string stats_json() const;
  void stop();

  struct Impl;

 private:
  explicit Simulator(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// Reads a simulator configuration (TOML): [departments.NAME] latency_ms, error_rate,
/// hang_rate, hang_ms, down, duplicate, verdict, answer_after_polls; [exchanges] NAME = "folder";
/// [elicense] missing = ["类型", ...]; [id_reader] origins = [...], failure = "", kiosk = "…",
/// kiosk_key_seed = "<64 hex digits>";
/// [id_reader.card] name, sex, nation, birth_date, address, id_number, issuer, valid_from,
/// valid_to (a [id_reader] table enables the reader); seed.
std::expected<Options, std::string> load_options(const std::string& path);

}  // namespace onevisit::deptsim
