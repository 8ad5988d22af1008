#include "deptsim/simulator.hpp"

#include <onevisit/adapters/adapter.hpp>
#include <onevisit/adapters/identity.hpp>
#include <onevisit/adapters/xml_exchange.hpp>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <boost/url/encode.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/parse_query.hpp>
#include <boost/url/rfc/unreserved_chars.hpp>
#include <pugixml.hpp>
#include <sodium.h>
#define TOML_EXCEPTIONS 0
#include <toml++/toml.h>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <ctime>
#include <fstream>
#include <list>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

namespace onevisit::deptsim {

namespace beast = boost::beast;
namespace http = beast::http;
namespace asio = boost::asio;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {


// Write-then-rename, as a department's exchange client must: readers never see half a file.
bool write_atomically(const fs::path& path, const std::string& text) {
  const fs::path temporary = path.parent_path() / ("." + path.filename().string() + ".tmp");
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return false;
  }
  std::error_code ec;
  fs::rename(temporary, path, ec);
  return !ec;
}

json::object object_of(std::string_view text) {
  boost::system::error_code ec;
  auto value = json::parse(text, ec);
  return !ec && value.is_object() ? std::move(value.as_object()) : json::object{};
}

std::string text_of(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

struct Simulator::Impl {
  Options options;
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor{io};
  std::thread accept_thread;
  std::vector<std::thread> exchange_threads;
  std::atomic<bool> stopping{false};

  mutable std::mutex mutex;  // everything below
  std::mt19937_64 random;
  std::map<std::string, Behaviour> behaviours;
  std::map<std::string, std::uint64_t> effects, received;
  std::map<std::string, std::string> payloads;
  std::map<std::string, std::string> answers;  // the first answer per key, repeated for repeats
  std::map<std::string, int> polls_left;       // questions to answer 202 before the verdict
  std::map<std::string, DepartmentCounts> counts;
  std::map<std::string, int> messages;  // by reference
  std::vector<SentText> texts;          // every message taken, oldest first
  struct IssuedCode {
    std::string nonce, redirect_uri;
    OidcPerson person;
    bool used = false;
  };
  std::map<std::string, IssuedCode> oidc_codes;  // by code
  // The platform's RS256 keys, published at GET /oidc/jwks; the last one signs. "HS256": the
  // platform signs with the client secret instead (POST /oidc/control {"signing"}).
  std::vector<adapters::RsaSigningKey> oidc_keys;
  std::string oidc_signing = "RS256";
  std::uint64_t jwks_fetches = 0;
  std::uint64_t elicense_lookups = 0;
  std::uint64_t registration_lookups = 0;
  std::list<std::shared_ptr<asio::ip::tcp::socket>> sockets;
  std::list<std::thread> connection_threads;
  std::condition_variable wake;

  Behaviour behaviour_for(const std::string& department) {
    if (auto it = behaviours.find(department); it != behaviours.end()) return it->second;
    if (auto it = behaviours.find("*"); it != behaviours.end()) return it->second;
    return Behaviour{};
  }
  double draw() {
    std::uniform_real_distribution<double> d(0, 1);
    return d(random);
  }

  // A department's verdict on a call, as the JSON `result` the engine understands.
  json::value result_for(const std::string& department, const std::string& key, const json::object& call, const Behaviour& b) {
    const auto* payload_value = call.if_contains("payload");
    const json::object payload = payload_value && payload_value->is_object() ? payload_value->as_object() : json::object{};
    // A call about no item (the post office's order of a postal delivery) has no verdict:
    // the system takes it and acknowledges it.
    if (b.verdict.empty() || text_of(payload, "item").empty()) return nullptr;
    json::object result{{"request_id", key},
                        {"case", text_of(payload, "case")},
                        {"item", text_of(payload, "item")},
                        {"from", department},
                        {"status", b.verdict}};
    if (b.verdict == "REJECTED") result["reason"] = "不符合法定条件（模拟）";
    if (b.verdict == "CORRECTION_REQUIRED") result["reason"] = "请补正材料（模拟）";
    if (b.verdict == "APPROVED") {
      json::array documents;
      if (const auto* produces = payload.if_contains("produces"); produces && produces->is_array()) {
        for (const auto& m : produces->as_array()) {
          if (!m.is_string()) continue;
          const std::string material(m.as_string());
          const std::string content = "证照 " + material + " 由 " + department + " 为办件 " + text_of(payload, "case") + " 签发";
          documents.push_back(json::object{{"material", material}, {"file", material + ".ofd"}, {"content_base64", adapters::encode_base64(content)}});
        }
      }
      result["documents"] = std::move(documents);
    }
    return result;
  }

  // Takes effect once per key; records what the department received.
  bool take_effect(const std::string& department, const std::string& key, const std::string& payload) {
    ++received[key];
    auto& c = counts[department];
    ++c.calls;
    if (effects[key] > 0) return false;
    effects[key] = 1;
    payloads[key] = payload;
    ++c.effects;
    return true;
  }

  struct Answer {
    bool drop = false;
    unsigned status = 200;
    std::string body;
    std::chrono::milliseconds delay{0};
    std::vector<std::pair<std::string, std::string>> headers;
  };

  Answer department_call(const std::string& department, const std::string& body, const std::string& key_header) {
    const json::object call = object_of(body);
    const std::string key = key_header.empty() ? text_of(call, "idempotency_key") : key_header;
    if (key.empty()) return {false, 400, R"({"error":"no Idempotency-Key"})", {}};
    std::lock_guard lock(mutex);
    const Behaviour b = behaviour_for(department);
    if (b.down) {
      ++counts[department].dropped;
      return {true, 0, {}, {}};
    }
    if (draw() < b.error_rate) {
      ++counts[department].errors;
      ++counts[department].calls;
      return {false, 500, R"({"error":"内部错误（模拟）"})", b.latency};
    }
    const auto* payload = call.if_contains("payload");
    const bool first = take_effect(department, key, payload ? json::serialize(*payload) : "null");
    Answer answer{false, first ? 200u : 409u, {}, b.latency};
    if (first) {
      // A repeated call is answered with the first answer, as a department system would.
      const json::value result = result_for(department, key, call, b);
      answers[key] = json::serialize(result.is_null() ? json::object{{"ok", true}} : json::object{{"ok", true}, {"result", result}});
      polls_left[key] = b.answer_after_polls;
    }
    answer.body = answers[key];
    if (polls_left[key] > 0) {
      answer.status = 202;
      answer.body = R"({"ok":true,"status":"PROCESSING"})";
    }
    if (draw() < b.hang_rate) {
      ++counts[department].timeouts;
      answer.delay += b.hang;
    }
    return answer;
  }

  // A question about a call taken earlier: 202 while the department works on it.
  Answer department_answer(const std::string& department, const std::string& key) {
    std::lock_guard lock(mutex);
    const Behaviour b = behaviour_for(department);
    if (b.down) {
      ++counts[department].dropped;
      return {true, 0, {}, {}};
    }
    const auto it = answers.find(key);
    if (it == answers.end()) return {false, 404, R"({"error":"no such call"})", b.latency};
    if (polls_left[key] > 0) {
      --polls_left[key];
      return {false, 202, R"({"ok":true,"status":"PROCESSING"})", b.latency};
    }
    return {false, 200, it->second, b.latency};
  }

  Answer elicense_lookup(const boost::urls::url_view& target) {
    std::string type, holder;
    for (const auto& p : target.params()) {
      if (p.key == "type") type = p.value;
      if (p.key == "holder") holder = p.value;
    }
    if (type.empty() || holder.empty()) return {false, 400, R"({"error":"type and holder are required"})", {}};
    std::lock_guard lock(mutex);
    ++elicense_lookups;
    if (std::find(options.missing_licenses.begin(), options.missing_licenses.end(), type) != options.missing_licenses.end()) {
      return {false, 404, R"({"error":"no such license"})", {}};
    }
    const std::string id = "1.2.156.3005.2." + std::to_string(std::hash<std::string>{}(type + "/" + holder) % 1000000007);
    const std::string content = "电子证照 " + type + " " + id;
    return {false, 200, json::serialize(json::object{{"id", id}, {"file", type + ".ofd"}, {"content_base64", adapters::encode_base64(content)}}), {}};
  }

  Answer registration_lookup(const boost::urls::url_view& target) {
    std::string uscc;
    for (const auto& p : target.params()) {
      if (p.key == "uscc") uscc = p.value;
    }
    if (uscc.empty()) return {false, 400, R"({"error":"uscc is required"})", {}};
    std::lock_guard lock(mutex);
    ++registration_lookups;
    for (const auto& r : options.registrations) {
      if (r.uscc != uscc) continue;
      json::array agents;
      for (const auto& a : r.agents) agents.push_back(json::string(a));
      return {false, 200, json::serialize(json::object{{"uscc", r.uscc}, {"name", r.name}, {"legal_representative", r.legal_representative},
                                                        {"legal_representative_id", r.legal_representative_id}, {"agents", std::move(agents)},
                                                        {"address", r.address}, {"type", r.type}, {"capital", r.capital},
                                                        {"business_scope", r.business_scope}, {"established", r.established}}), {}};
    }
    return {false, 404, R"({"error":"no such company"})", {}};
  }

  Answer text_message(const std::string& body) {
    const json::object message = object_of(body);
    const std::string phone = text_of(message, "phone"), reference = text_of(message, "reference");
    if (phone.size() != 11 || text_of(message, "text").empty() || reference.empty()) return {false, 400, R"({"error":"phone, text, reference"})", {}};
    std::lock_guard lock(mutex);
    const bool first = messages[reference]++ == 0;
    if (first) texts.push_back({phone, text_of(message, "text"), reference});
    return {false, first ? 200u : 409u, R"({"ok":true})", {}};
  }

  Answer texts_sent(const boost::urls::url_view& target) {
    std::string phone;
    for (const auto& p : target.params()) {
      if (p.key == "phone") phone = p.value;
    }
    if (phone.empty()) return {false, 400, R"({"error":"phone is required"})", {}};
    json::array list;
    std::lock_guard lock(mutex);
    for (const auto& t : texts) {
      if (t.phone == phone) list.push_back(json::object{{"phone", t.phone}, {"text", t.text}, {"reference", t.reference}});
    }
    return {false, 200, json::serialize(json::object{{"messages", std::move(list)}}), {}};
  }

  // GET /oidc/authorize: the person at the platform logs in and consents at once.
  Answer oidc_authorize(const boost::urls::url_view& target) {
    std::map<std::string, std::string> p;
    for (const auto& param : target.params()) p[param.key] = param.value;
    std::lock_guard lock(mutex);
    const IdentityPlatform& platform = options.identity_platform;
    if (p["response_type"] != "code" || p["client_id"] != platform.client_id || p["redirect_uri"].empty() || p["state"].empty()) {
      return {false, 400, R"({"error":"invalid_request"})", {}};
    }
    std::uniform_int_distribution<std::uint64_t> any;
    const std::string code = "code-" + std::to_string(any(random));
    oidc_codes[code] = IssuedCode{p["nonce"], p["redirect_uri"], platform.person, false};
    const std::string& back = p["redirect_uri"];
    const std::string location = back + (back.find('?') == std::string::npos ? "?" : "&") + "code=" +
                                 boost::urls::encode(code, boost::urls::unreserved_chars) + "&state=" +
                                 boost::urls::encode(p["state"], boost::urls::unreserved_chars);
    return {false, 302, "{}", {}, {{"Location", location}}};
  }

  // POST /oidc/token: a code once, for the registered client, for an ID token.
  Answer oidc_token(const std::string& body) {
    std::map<std::string, std::string> form;
    if (auto params = boost::urls::parse_query(body)) {
      for (const auto& param : *params) form[param.key.decode()] = param.value.decode();
    }
    std::lock_guard lock(mutex);
    const IdentityPlatform& platform = options.identity_platform;
    if (form["grant_type"] != "authorization_code" || form["client_id"] != platform.client_id ||
        form["client_secret"] != platform.client_secret) {
      return {false, 401, R"({"error":"invalid_client"})", {}};
    }
    auto it = oidc_codes.find(form["code"]);
    if (it == oidc_codes.end() || it->second.used || it->second.redirect_uri != form["redirect_uri"]) {
      return {false, 400, R"({"error":"invalid_grant"})", {}};
    }
    it->second.used = true;
    const IssuedCode& issued = it->second;
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    const std::string& fault = platform.fault;
    json::object claims{{"iss", fault == "issuer" ? "https://evil.example.com" : platform.issuer},
                        {"aud", fault == "audience" ? "another-client" : platform.client_id},
                        {"sub", issued.person.subject},
                        {"iat", now},
                        {"exp", now + platform.token_lifetime_seconds},
                        {"nonce", fault == "nonce" ? "another-nonce" : issued.nonce},
                        {"name", issued.person.name},
                        {"id_number", issued.person.id_number}};
    const auto& key = oidc_keys.back();
    // The header: RS256 with the signing key's id; wrong ones for the faults below.
    json::object head{{"alg", oidc_signing}, {"typ", "JWT"}};
    if (oidc_signing == "RS256") head["kid"] = fault == "kid_unknown" ? "sim-unknown" : key.kid();
    if (fault == "alg_none") head = json::object{{"alg", "none"}, {"typ", "JWT"}};
    if (fault == "hs256_public_key") head = json::object{{"alg", "HS256"}, {"typ", "JWT"}, {"kid", key.kid()}};
    const std::string header = adapters::base64url_encode(json::serialize(head));
    const std::string signing_input = header + "." + adapters::base64url_encode(json::serialize(claims));
    std::string signature;
    if (fault == "alg_none") {
      signature = "";
    } else if (fault == "hs256_public_key") {
      // The known attack: HMAC with the platform's public key (anyone may read it) as the secret.
      signature = adapters::hs256_signature(signing_input, "[" + key.jwk_json() + "]");
    } else if (oidc_signing == "HS256") {
      signature = adapters::hs256_signature(signing_input, fault == "signature" ? "a secret that is not the client's" : platform.client_secret);
    } else if (fault == "signature" || fault == "kid_unknown") {
      // Signed by a key that is not the platform's (a forger's), under its key id or another.
      auto forger = adapters::RsaSigningKey::generate("forger");
      signature = forger ? forger->sign(signing_input) : std::string();
    } else {
      signature = key.sign(signing_input);
    }
    return {false, 200, json::serialize(json::object{{"access_token", "at-" + form["code"]}, {"token_type", "Bearer"},
                                                     {"expires_in", platform.token_lifetime_seconds},
                                                     {"id_token", signing_input + "." + signature}}), {}};
  }

  // POST /oidc/control: {"person": {...}, "fault": "...", "token_lifetime_seconds": n}.
  Answer oidc_control(const std::string& body) {
    const json::object c = object_of(body);
    std::lock_guard lock(mutex);
    IdentityPlatform& platform = options.identity_platform;
    if (const auto* person = c.if_contains("person"); person && person->is_object()) {
      const auto& o = person->as_object();
      if (const auto v = text_of(o, "subject"); !v.empty()) platform.person.subject = v;
      if (const auto v = text_of(o, "name"); !v.empty()) platform.person.name = v;
      if (const auto v = text_of(o, "id_number"); !v.empty()) platform.person.id_number = v;
    }
    if (const auto* fault = c.if_contains("fault"); fault && fault->is_string()) platform.fault = std::string(fault->as_string());
    if (const auto* lifetime = c.if_contains("token_lifetime_seconds"); lifetime && lifetime->is_int64()) {
      platform.token_lifetime_seconds = lifetime->as_int64();
    }
    if (const auto signing = text_of(c, "signing"); signing == "RS256" || signing == "HS256") oidc_signing = signing;
    if (const auto* rotate = c.if_contains("rotate_key"); rotate && rotate->is_bool() && rotate->as_bool()) {
      // A new key signs from now on; the JWKS publishes it beside the one before.
      auto key = adapters::RsaSigningKey::generate("sim-" + std::to_string(oidc_keys.size() + 1));
      if (!key) return {false, 500, R"({"error":"cannot make a key"})", {}};
      oidc_keys.push_back(std::move(*key));
      if (oidc_keys.size() > 2) oidc_keys.erase(oidc_keys.begin());
    }
    return {false, 200, R"({"ok":true})", {}};
  }

  // GET /oidc/jwks: the platform's public keys (RFC 7517).
  Answer oidc_jwks() {
    std::lock_guard lock(mutex);
    ++jwks_fetches;
    std::string keys;
    for (const auto& key : oidc_keys) keys += (keys.empty() ? "" : ",") + key.jwk_json();
    return {false, 200, R"({"keys":[)" + keys + "]}", {}};
  }

  Answer control(const std::string& body) {
    const json::object c = object_of(body);
    const std::string department = text_of(c, "department");
    if (department.empty()) return {false, 400, R"({"error":"department is required"})", {}};
    std::lock_guard lock(mutex);
    Behaviour b = behaviour_for(department);
    auto number = [&](std::string_view key) -> std::optional<double> {
      const auto* v = c.if_contains(key);
      if (!v || !v->is_number()) return std::nullopt;
      return v->to_number<double>();
    };
    if (auto v = number("latency_ms")) b.latency = std::chrono::milliseconds(static_cast<long>(*v));
    if (auto v = number("error_rate")) b.error_rate = *v;
    if (auto v = number("hang_rate")) b.hang_rate = *v;
    if (auto v = number("hang_ms")) b.hang = std::chrono::milliseconds(static_cast<long>(*v));
    if (const auto* v = c.if_contains("down"); v && v->is_bool()) b.down = v->as_bool();
    if (const auto* v = c.if_contains("duplicate"); v && v->is_bool()) b.duplicate = v->as_bool();
    if (const auto* v = c.if_contains("verdict"); v && v->is_string()) b.verdict = std::string(v->as_string());
    if (auto v = number("answer_after_polls")) b.answer_after_polls = static_cast<int>(*v);
    behaviours[department] = b;
    return {false, 200, R"({"ok":true})", {}};
  }

  // CORS for the reader: the console's page (another origin than the reader's address) may
  // read the answer only when its origin is allowed. The preflight also answers Chrome's
  // Private Network Access question, which a page served from a public address asks first.
  std::vector<std::pair<std::string, std::string>> reader_cors(const http::request<http::string_body>& request) const {
    const std::string origin(request[http::field::origin]);
    const auto& allowed = options.id_reader.origins;
    if (origin.empty() || (std::find(allowed.begin(), allowed.end(), origin) == allowed.end() &&
                           std::find(allowed.begin(), allowed.end(), "*") == allowed.end())) {
      return {};
    }
    std::vector<std::pair<std::string, std::string>> headers{{"Access-Control-Allow-Origin", origin}, {"Vary", "Origin"}};
    if (request.method() == http::verb::options) {
      headers.emplace_back("Access-Control-Allow-Methods", "GET");
      headers.emplace_back("Access-Control-Max-Age", "600");
      if (!request["Access-Control-Request-Headers"].empty()) {
        headers.emplace_back("Access-Control-Allow-Headers", std::string(request["Access-Control-Request-Headers"]));
      }
      if (request["Access-Control-Request-Private-Network"] == "true") headers.emplace_back("Access-Control-Allow-Private-Network", "true");
    }
    return headers;
  }

  // GET /idreader/read: the card on the reader, or why there is none.
  Answer id_card_read(const http::request<http::string_body>& request) {
    std::lock_guard lock(mutex);
    const IdReader& reader = options.id_reader;
    Answer answer{false, 200, {}, {}, reader_cors(request)};
    if (request.method() == http::verb::options) {
      answer.status = 204;
      return answer;
    }
    if (reader.failure == "offline") return {true, 0, {}, {}, {}};
    if (reader.failure == "no_reader") {
      answer.status = 503;
      answer.body = R"({"error":"no_reader","message":"reader not connected"})";
    } else if (reader.failure == "no_card") {
      answer.status = 404;
      answer.body = R"({"error":"no_card","message":"no card on the reader"})";
    } else if (reader.failure == "read_failed") {
      answer.status = 500;
      answer.body = R"({"error":"read_failed","message":"the card could not be read"})";
    } else {
      const IdCard& c = reader.card;
      answer.body = json::serialize(json::object{{"name", c.name}, {"sex", c.sex}, {"nation", c.nation}, {"birth_date", c.birth_date},
                                                 {"address", c.address}, {"id_number", c.id_number}, {"issuer", c.issuer},
                                                 {"valid_from", c.valid_from}, {"valid_to", c.valid_to}});
    }
    return answer;
  }

  // The kiosk's device key, from the configured seed or drawn at start.
  std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> kiosk_public{};
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> kiosk_secret{};

  static std::string hex(const unsigned char* data, std::size_t size) {
    std::string out(size * 2 + 1, '\0');
    sodium_bin2hex(out.data(), out.size(), data, size);
    out.pop_back();
    return out;
  }

  // GET /idreader/device: what the installer shows the administrator to register.
  Answer kiosk_device(const http::request<http::string_body>& request) {
    std::lock_guard lock(mutex);
    Answer answer{false, 200, {}, {}, reader_cors(request)};
    answer.body = json::serialize(json::object{{"kiosk", options.id_reader.kiosk}, {"public_key", hex(kiosk_public.data(), kiosk_public.size())}});
    return answer;
  }

  // GET /idreader/signed-read?nonce=…: the card on the reader with the server's nonce and the
  // time, signed with the device key (docs/applicant.md, "The kiosk"); the reader's failures as
  // /idreader/read answers them.
  Answer kiosk_signed_read(const http::request<http::string_body>& request, const boost::urls::url_view& target) {
    Answer answer = id_card_read(request);
    if (answer.drop || answer.status != 200 || request.method() == http::verb::options) return answer;
    std::string nonce;
    for (const auto& p : target.params()) {
      if (p.key == "nonce") nonce = p.value;
    }
    if (nonce.empty() || nonce.size() > 200) {
      answer.status = 400;
      answer.body = R"({"error":"no_nonce","message":"GET /idreader/signed-read?nonce=<the server's nonce>"})";
      return answer;
    }
    std::lock_guard lock(mutex);
    const IdReader& reader = options.id_reader;
    const IdCard& c = reader.card;
    auto read_at = static_cast<std::int64_t>(std::time(nullptr));
    if (reader.signing == "stale") read_at -= 3600;
    const std::string text = json::serialize(json::object{{"v", 1}, {"kiosk", reader.kiosk}, {"nonce", nonce}, {"read_at", read_at},
                                                           {"name", c.name}, {"id_number", c.id_number}, {"valid_from", c.valid_from},
                                                           {"valid_to", c.valid_to}});
    json::object signed_read{{"card_read", text}};
    if (reader.signing != "unsigned") {
      std::array<unsigned char, crypto_sign_BYTES> signature{};
      auto secret = kiosk_secret;
      if (reader.signing == "forged") {
        std::array<unsigned char, crypto_sign_PUBLICKEYBYTES> other{};
        crypto_sign_keypair(other.data(), secret.data());
      }
      crypto_sign_detached(signature.data(), nullptr, reinterpret_cast<const unsigned char*>(text.data()), text.size(), secret.data());
      signed_read["signature"] = hex(signature.data(), signature.size());
    }
    answer.body = json::serialize(signed_read);
    return answer;
  }

  // POST /idreader/control: {"failure": "...", "origins": [...], "card": {...}}; what is not
  // given stays as it was.
  Answer id_reader_control(const std::string& body) {
    boost::system::error_code ec;
    const json::value parsed = json::parse(body, ec);
    if (ec || !parsed.is_object()) return {false, 400, R"({"error":"a JSON object is expected"})", {}};
    const json::object& c = parsed.as_object();
    std::lock_guard lock(mutex);
    IdReader reader = options.id_reader;
    if (const auto* failure = c.if_contains("failure")) {
      static const std::vector<std::string> kFailures{"", "no_reader", "no_card", "read_failed", "offline"};
      if (!failure->is_string() || std::find(kFailures.begin(), kFailures.end(), failure->as_string()) == kFailures.end()) {
        return {false, 400, R"({"error":"failure is one of \"\", no_reader, no_card, read_failed, offline"})", {}};
      }
      reader.failure = std::string(failure->as_string());
    }
    if (const auto* origins = c.if_contains("origins")) {
      if (!origins->is_array()) return {false, 400, R"({"error":"origins is a list of origins"})", {}};
      reader.origins.clear();
      for (const auto& o : origins->as_array()) {
        if (!o.is_string()) return {false, 400, R"({"error":"origins is a list of origins"})", {}};
        reader.origins.emplace_back(o.as_string());
      }
    }
    if (const auto* kiosk = c.if_contains("kiosk"); kiosk && kiosk->is_string()) reader.kiosk = std::string(kiosk->as_string());
    if (const auto* signing = c.if_contains("signing")) {
      static const std::vector<std::string> kSigning{"", "forged", "unsigned", "stale"};
      if (!signing->is_string() || std::find(kSigning.begin(), kSigning.end(), signing->as_string()) == kSigning.end()) {
        return {false, 400, R"({"error":"signing is one of \"\", forged, unsigned, stale"})", {}};
      }
      reader.signing = std::string(signing->as_string());
    }
    if (const auto* card = c.if_contains("card")) {
      if (!card->is_object()) return {false, 400, R"({"error":"card is an object"})", {}};
      const auto& o = card->as_object();
      for (auto [key, field] : {std::pair{"name", &IdCard::name}, {"sex", &IdCard::sex}, {"nation", &IdCard::nation},
                                {"birth_date", &IdCard::birth_date}, {"address", &IdCard::address}, {"id_number", &IdCard::id_number},
                                {"issuer", &IdCard::issuer}, {"valid_from", &IdCard::valid_from}, {"valid_to", &IdCard::valid_to}}) {
        if (const auto* v = o.if_contains(key); v && v->is_string()) reader.card.*field = std::string(v->as_string());
      }
    }
    options.id_reader = reader;
    return {false, 200, R"({"ok":true})", {}};
  }

  Answer route(const http::request<http::string_body>& request) {
    const auto target = boost::urls::parse_origin_form(request.target());
    if (!target) return {false, 400, R"({"error":"bad target"})", {}};
    const std::string path(target->path());
    const bool post = request.method() == http::verb::post, get = request.method() == http::verb::get;
    if (post && path.starts_with("/dept/")) {
      const auto rest = path.substr(6);
      const auto slash = rest.find('/');
      if (slash == std::string::npos || slash == 0) return {false, 404, R"({"error":"POST /dept/<system>/<operation>"})", {}};
      return department_call(rest.substr(0, slash), request.body(), std::string(request["Idempotency-Key"]));
    }
    if (get && path.starts_with("/dept/")) {
      // /dept/<system>/<operation>/<key>; the key is percent-encoded, path() decodes it.
      const auto rest = path.substr(6);
      const auto first = rest.find('/');
      const auto second = first == std::string::npos ? std::string::npos : rest.find('/', first + 1);
      if (second == std::string::npos) return {false, 404, R"({"error":"GET /dept/<system>/<operation>/<key>"})", {}};
      return department_answer(rest.substr(0, first), rest.substr(second + 1));
    }
    if (get && path == "/elicense/licenses") return elicense_lookup(*target);
    if (get && path == "/elicense/registrations") return registration_lookup(*target);
    if (post && path == "/sms/send") return text_message(request.body());
    if (get && path == "/sms/messages") return texts_sent(*target);
    if (get && path == "/oidc/authorize") return oidc_authorize(*target);
    if (post && path == "/oidc/token") return oidc_token(request.body());
    if (post && path == "/oidc/control") return oidc_control(request.body());
    if (get && path == "/oidc/jwks") return oidc_jwks();
    if (get && path == "/stats") return {false, 200, stats(), {}};
    if (post && path == "/control") return control(request.body());
    if (options.id_reader.enabled) {
      if ((get || request.method() == http::verb::options) && path == "/idreader/read") return id_card_read(request);
      if (post && path == "/idreader/control") return id_reader_control(request.body());
      if ((get || request.method() == http::verb::options) && path == "/idreader/signed-read") return kiosk_signed_read(request, *target);
      if ((get || request.method() == http::verb::options) && path == "/idreader/device") return kiosk_device(request);
    }
    return {false, 404, R"({"error":"no such endpoint"})", {}};
  }

  void serve_connection(std::shared_ptr<asio::ip::tcp::socket> socket) {
    beast::flat_buffer buffer;
    boost::system::error_code ec;
    while (!stopping) {
      http::request_parser<http::string_body> parser;
      parser.body_limit(16u << 20);
      http::read(*socket, buffer, parser, ec);
      if (ec) break;
      const auto& request = parser.get();
      Answer answer = route(request);
      if (answer.drop) break;
      if (answer.delay.count() > 0) {
        std::unique_lock lock(mutex);
        wake.wait_for(lock, answer.delay, [&] { return stopping.load(); });
      }
      http::response<http::string_body> response{static_cast<http::status>(answer.status), request.version()};
      response.set(http::field::content_type, "application/json; charset=utf-8");
      for (const auto& [name, value] : answer.headers) response.set(name, value);
      response.keep_alive(request.keep_alive());
      response.body() = std::move(answer.body);
      response.prepare_payload();
      http::write(*socket, response, ec);
      if (ec || !request.keep_alive()) break;
    }
    socket->shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    socket->close(ec);
  }

  void accept_loop() {
    while (!stopping) {
      auto socket = std::make_shared<asio::ip::tcp::socket>(io);
      boost::system::error_code ec;
      acceptor.accept(*socket, ec);
      if (stopping) break;
      if (ec) continue;
      socket->set_option(asio::ip::tcp::no_delay(true), ec);
      std::lock_guard lock(mutex);
      sockets.push_back(socket);
      connection_threads.emplace_back([this, socket] { serve_connection(socket); });
    }
  }

  // The exchange worker of one department: takes requests from out/, answers in in/.
  void exchange_loop(const std::string& department, const fs::path& root) {
    const fs::path out = root / "out", in = root / "in", taken = root / "taken";
    std::error_code ec;
    fs::create_directories(in, ec);
    fs::create_directories(taken, ec);
    while (!stopping) {
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(out, ec)) {
        const auto name = entry.path().filename().string();
        if (!name.empty() && name.front() != '.' && entry.path().extension() == ".xml") files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& file : files) {
        if (stopping) return;
        Behaviour b;
        {
          std::lock_guard lock(mutex);
          b = behaviour_for(department);
          if (b.down) break;
          if (draw() < b.error_rate) {
            ++counts[department].errors;
            continue;  // it fails to pick the file up this time
          }
        }
        if (b.latency.count() > 0) std::this_thread::sleep_for(b.latency);
        pugi::xml_document doc;
        if (!doc.load_file(file.c_str())) continue;
        const auto envelope = doc.child("envelope");
        const std::string key = envelope.attribute("msgId").value();
        const auto request = envelope.child("request");
        const std::string payload_text = request.child_value("payload");
        if (key.empty()) {
          fs::rename(file, taken / file.filename(), ec);
          continue;
        }
        json::value result;
        std::uint64_t seen = 0;
        {
          std::lock_guard lock(mutex);
          take_effect(department, key, payload_text);
          seen = received[key];
          json::object call{{"payload", json::parse(payload_text, ec)}};
          if (ec) call["payload"] = json::object{};
          ec.clear();
          result = result_for(department, key, call, b);
        }
        // The request leaves out/ only once it took effect and its answer is written.
        if (result.is_null()) {
          fs::rename(file, taken / file.filename(), ec);
          continue;
        }
        const auto& r = result.as_object();
        pugi::xml_document receipt;
        auto e = receipt.append_child("envelope");
        e.append_attribute("version") = "1";
        e.append_attribute("msgId") = ("r-" + key).c_str();
        e.append_attribute("bizType") = "result";
        e.append_attribute("fromNode") = department.c_str();
        e.append_attribute("toNode") = "onevisit";
        auto x = e.append_child("result");
        x.append_attribute("caseNo") = text_of(r, "case").c_str();
        x.append_attribute("itemCode") = text_of(r, "item").c_str();
        x.append_attribute("requestId") = key.c_str();
        x.append_attribute("status") = text_of(r, "status").c_str();
        if (const auto reason = text_of(r, "reason"); !reason.empty()) x.append_child("reason").text().set(reason.c_str());
        if (const auto* documents = r.if_contains("documents"); documents && documents->is_array()) {
          for (const auto& d : documents->as_array()) {
            const auto& od = d.as_object();
            auto document = x.append_child("document");
            document.append_attribute("material") = text_of(od, "material").c_str();
            document.append_attribute("file") = text_of(od, "file").c_str();
            document.text().set(text_of(od, "content_base64").c_str());
          }
        }
        std::ostringstream text;
        receipt.save(text, "  ", pugi::format_default, pugi::encoding_utf8);
        // Answered again for a repeated request, and twice when the behaviour says so.
        const int copies = b.duplicate ? 2 : 1;
        for (int n = 0; n < copies; ++n) {
          write_atomically(in / (adapters::exchange_file_name(key) + "." + std::to_string(seen) + "." + std::to_string(n) + ".xml"), text.str());
        }
        fs::rename(file, taken / file.filename(), ec);
      }
      std::unique_lock lock(mutex);
      wake.wait_for(lock, options.exchange_poll, [&] { return stopping.load(); });
    }
  }

  std::string stats() const {
    std::lock_guard lock(mutex);
    json::object departments;
    for (const auto& [name, c] : counts) {
      departments[name] = json::object{{"calls", c.calls}, {"effects", c.effects}, {"errors", c.errors}, {"timeouts", c.timeouts}, {"dropped", c.dropped}};
    }
    json::object e, r, p;
    for (const auto& [k, n] : effects) e[k] = n;
    for (const auto& [k, n] : received) r[k] = n;
    for (const auto& [k, text] : payloads) {
      boost::system::error_code ec;
      auto value = json::parse(text, ec);
      p[k] = ec ? json::value(text) : std::move(value);
    }
    return json::serialize(json::object{{"departments", std::move(departments)},
                                        {"effects", std::move(e)},
                                        {"received", std::move(r)},
                                        {"payloads", std::move(p)},
                                        {"text_messages", messages.size()},
                                        {"elicense_lookups", elicense_lookups}, {"registration_lookups", registration_lookups},
                                        {"jwks_fetches", jwks_fetches}});
  }
};

std::vector<Registration> default_registrations() {
  // The legal representatives' and agents' ID numbers are valid test numbers; 王小明
  // (330106199003070014, the identity platform's default person) is the restaurant's agent.
  return {{"91350100M000100Y43", "杭州小馆餐饮管理有限公司", "张三", "浙江省杭州市西湖区文三路1号", "limited", "50",
           "餐饮服务；食品销售", "2025-06-18", "11010519491231002X", {"330106199003070014"}},
          {"91330106MA2H00010C", "杭州一件事科技有限公司", "李四", "浙江省杭州市西湖区学院路28号", "limited", "100",
           "软件开发；信息技术咨询服务", "2024-03-01", "110101199003074477", {}}};
}

std::expected<std::unique_ptr<Simulator>, std::string> Simulator::start(Options options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->behaviours = options.behaviours;
  impl->random.seed(options.seed);
  if (sodium_init() < 0) return std::unexpected("libsodium cannot start");
  auto platform_key = adapters::RsaSigningKey::generate("sim-1");
  if (!platform_key) return std::unexpected(platform_key.error());
  impl->oidc_keys.push_back(std::move(*platform_key));
  if (options.id_reader.kiosk_key_seed.empty()) {
    crypto_sign_keypair(impl->kiosk_public.data(), impl->kiosk_secret.data());
  } else {
    std::array<unsigned char, crypto_sign_SEEDBYTES> seed{};
    std::size_t length = 0;
    const auto& text = options.id_reader.kiosk_key_seed;
    if (sodium_hex2bin(seed.data(), seed.size(), text.data(), text.size(), nullptr, &length, nullptr) != 0 || length != seed.size()) {
      return std::unexpected("id_reader.kiosk_key_seed is not 64 hex digits");
    }
    crypto_sign_seed_keypair(impl->kiosk_public.data(), impl->kiosk_secret.data(), seed.data());
  }
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.listen_address, ec);
  if (ec) return std::unexpected("'" + options.listen_address + "' is not an IP address");
  const asio::ip::tcp::endpoint endpoint(address, options.port);
  impl->acceptor.open(endpoint.protocol(), ec);
  if (!ec) impl->acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return std::unexpected("cannot listen on " + options.listen_address + ":" + std::to_string(options.port) + ": " + ec.message());
  auto* raw = impl.get();
  impl->accept_thread = std::thread([raw] { raw->accept_loop(); });
  for (const auto& [department, root] : options.exchanges) {
    impl->exchange_threads.emplace_back([raw, department, root] { raw->exchange_loop(department, root); });
  }
  return std::unique_ptr<Simulator>(new Simulator(std::move(impl)));
}

Simulator::Simulator(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Simulator::~Simulator() { stop(); }

void Simulator::stop() {
  if (impl_->stopping.exchange(true)) return;
  impl_->wake.notify_all();
  boost::system::error_code ec;
  {
    // Wake accept(): a connection to ourselves.
    asio::ip::tcp::socket poke(impl_->io);
    poke.connect(impl_->acceptor.local_endpoint(), ec);
  }
  impl_->accept_thread.join();
  impl_->acceptor.close(ec);
  std::list<std::thread> threads;
  {
    std::lock_guard lock(impl_->mutex);
    for (auto& s : impl_->sockets) s->shutdown(asio::ip::tcp::socket::shutdown_both, ec);
    threads = std::move(impl_->connection_threads);
  }
  impl_->wake.notify_all();
  for (auto& t : threads) t.join();
  for (auto& t : impl_->exchange_threads) t.join();
}

unsigned short Simulator::port() const { return impl_->acceptor.local_endpoint().port(); }
std::string Simulator::url() const { return "http://" + impl_->options.listen_address + ":" + std::to_string(port()); }

void Simulator::set_behaviour(const std::string& department, const Behaviour& behaviour) {
  std::lock_guard lock(impl_->mutex);
  impl_->behaviours[department] = behaviour;
}

std::map<std::string, std::uint64_t> Simulator::effects() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->effects;
}
std::map<std::string, std::uint64_t> Simulator::received() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}
std::map<std::string, DepartmentCounts> Simulator::counts() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->counts;
}
std::map<std::string, std::string> Simulator::payloads() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->payloads;
}
std::uint64_t Simulator::text_messages() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->messages.size();
}
std::vector<SentText> Simulator::texts_to(const std::string& phone) const {
  std::lock_guard lock(impl_->mutex);
  std::vector<SentText> found;
  for (const auto& t : impl_->texts) {
    if (t.phone == phone) found.push_back(t);
  }
  return found;
}
std::string Simulator::stats_json() const { return impl_->stats(); }

std::expected<Options, std::string> load_options(const std::string& path) {
  auto parsed = toml::parse_file(path);
  if (!parsed) {
    const auto& e = parsed.error();
    return std::unexpected(path + ":" + std::to_string(e.source().begin.line) + ":" + std::to_string(e.source().begin.column) + ": " +
                           std::string(e.description()));
  }
  const toml::table& root = parsed.table();
  Options o;
  o.seed = static_cast<std::uint64_t>(root["seed"].value_or<std::int64_t>(1));
  if (const auto* departments = root["departments"].as_table()) {
    for (const auto& [name, node] : *departments) {
      const auto* t = node.as_table();
      if (!t) return std::unexpected(path + ": departments." + std::string(name.str()) + " must be a table");
      Behaviour b;
      b.latency = std::chrono::milliseconds((*t)["latency_ms"].value_or<std::int64_t>(0));
      b.error_rate = (*t)["error_rate"].value_or(0.0);
      b.hang_rate = (*t)["hang_rate"].value_or(0.0);
      b.hang = std::chrono::milliseconds((*t)["hang_ms"].value_or<std::int64_t>(3000));
      b.down = (*t)["down"].value_or(false);
      b.duplicate = (*t)["duplicate"].value_or(false);
      b.verdict = (*t)["verdict"].value_or<std::string>("APPROVED");
      b.answer_after_polls = static_cast<int>((*t)["answer_after_polls"].value_or<std::int64_t>(0));
      if (b.error_rate < 0 || b.error_rate > 1 || b.hang_rate < 0 || b.hang_rate > 1) {
        return std::unexpected(path + ": departments." + std::string(name.str()) + ": rates are between 0 and 1");
      }
      o.behaviours[std::string(name.str())] = b;
    }
  }
  if (const auto* exchanges = root["exchanges"].as_table()) {
    for (const auto& [name, node] : *exchanges) {
      const auto folder = node.value<std::string>();
      if (!folder) return std::unexpected(path + ": exchanges." + std::string(name.str()) + " must be a folder path");
      o.exchanges[std::string(name.str())] = *folder;
    }
  }
  if (const auto* reader = root["id_reader"].as_table()) {
    o.id_reader.enabled = true;
    if (const auto* origins = (*reader)["origins"].as_array()) {
      for (const auto& origin : *origins) {
        if (const auto text = origin.value<std::string>()) o.id_reader.origins.push_back(*text);
      }
    }
    o.id_reader.failure = (*reader)["failure"].value_or<std::string>("");
    o.id_reader.kiosk = (*reader)["kiosk"].value<std::string>().value_or(o.id_reader.kiosk);
    o.id_reader.kiosk_key_seed = (*reader)["kiosk_key_seed"].value_or<std::string>("");
    if (o.id_reader.failure != "" && o.id_reader.failure != "no_reader" && o.id_reader.failure != "no_card" &&
        o.id_reader.failure != "read_failed" && o.id_reader.failure != "offline") {
      return std::unexpected(path + ": id_reader.failure is one of \"\", no_reader, no_card, read_failed, offline");
    }
    if (const auto* card = (*reader)["card"].as_table()) {
      IdCard& c = o.id_reader.card;
      for (auto [key, field] : {std::pair{"name", &IdCard::name}, {"sex", &IdCard::sex}, {"nation", &IdCard::nation},
                                {"birth_date", &IdCard::birth_date}, {"address", &IdCard::address}, {"id_number", &IdCard::id_number},
                                {"issuer", &IdCard::issuer}, {"valid_from", &IdCard::valid_from}, {"valid_to", &IdCard::valid_to}}) {
        if (const auto value = (*card)[key].value<std::string>()) c.*field = *value;
      }
    }
  }
  if (const auto* missing = root["elicense"]["missing"].as_array()) {
    for (const auto& type : *missing) {
      if (const auto t = type.value<std::string>()) o.missing_licenses.push_back(*t);
    }
  }
  return o;
}

}  // namespace onevisit::deptsim
