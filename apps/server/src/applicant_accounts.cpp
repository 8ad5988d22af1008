// The applicant channel's tables of the AccountStore (accounts.hpp): one-time SMS codes,
// applicants' sessions and OpenID Connect logins begun.
#include "accounts.hpp"
#include "account_database.hpp"

#include <onevisit/engine/sealed_text.hpp>

#include <sodium.h>

#include <algorithm>
#include <array>
#include <utility>

namespace onevisit::server {

using sql::Query;

namespace {

// Where a sealed value belongs (its associated data): a value moved to another row fails to open.
std::string session_place(const std::string& token_hash) { return "server_applicant_sessions.identity/" + token_hash; }
std::string draft_place(const std::string& owner_hash, const std::string& draft) {
  return "server_applicant_drafts.content/" + owner_hash + "/" + draft;
}

// A keyed BLAKE2b digest of a code, hex: the table alone does not give the code back without
// trying each of the million codes against its key, and each row has its own key.
std::string code_digest(std::string_view code, const std::string& key_hex) {
  std::array<unsigned char, crypto_generichash_KEYBYTES> key{};
  std::size_t key_length = 0;
  sodium_hex2bin(key.data(), key.size(), key_hex.data(), key_hex.size(), nullptr, &key_length, nullptr);
  std::array<unsigned char, crypto_generichash_BYTES> digest{};
  crypto_generichash(digest.data(), digest.size(), reinterpret_cast<const unsigned char*>(code.data()), code.size(), key.data(), key_length);
  std::string hex(digest.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();
  return hex;
}

}  // namespace

std::expected<void, AccountError> AccountStore::store_login_code(const std::string& phone, std::string_view code, Timestamp expires_at,
                                                                 int attempts) {
  const std::string key = random_hex(crypto_generichash_KEYBYTES);
  std::lock_guard lock(mutex_);
  Query q(*db_,
          "INSERT INTO server_applicant_codes (phone_hash, code_digest, code_key, expires_at, attempts_left) VALUES (?,?,?,?,?) "
          "ON CONFLICT(phone_hash) DO UPDATE SET code_digest = excluded.code_digest, code_key = excluded.code_key, "
          "expires_at = excluded.expires_at, attempts_left = excluded.attempts_left");
  return q.bind(sha256_hex(phone)).bind(code_digest(code, key)).bind(key).bind(expires_at).bind(std::int64_t{attempts}).run();
}

std::expected<CodeCheck, AccountError> AccountStore::check_login_code(const std::string& phone, std::string_view code, Timestamp now) {
  const std::string phone_hash = sha256_hex(phone);
  std::lock_guard lock(mutex_);
  Query find(*db_, "SELECT code_digest, code_key, expires_at, attempts_left FROM server_applicant_codes WHERE phone_hash = ?");
  auto row = find.bind(phone_hash).step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return CodeCheck::expired;
  const std::string digest = find.text(0), key = find.text(1);
  const Timestamp expires_at = find.int64(2);
  const std::int64_t attempts_left = find.int64(3);
  if (expires_at <= now || attempts_left <= 0) return CodeCheck::expired;
  const std::string given = code_digest(code, key);
  if (given.size() == digest.size() && sodium_memcmp(given.data(), digest.data(), digest.size()) == 0) {
    // Used once: a code that let someone in never does again. Only the node whose DELETE
    // removed it lets them in (two nodes may check one code at once).
    Query used(*db_, "DELETE FROM server_applicant_codes WHERE phone_hash = ? AND code_digest = ? RETURNING phone_hash");
    auto removed = used.bind(phone_hash).bind(digest).step();
    if (!removed) return std::unexpected(removed.error());
    return *removed ? CodeCheck::accepted : CodeCheck::expired;
  }
  Query spend(*db_, "UPDATE server_applicant_codes SET attempts_left = attempts_left - 1 WHERE phone_hash = ?");
  if (auto ok = spend.bind(phone_hash).run(); !ok) return std::unexpected(ok.error());
  return CodeCheck::wrong;
}

namespace {

// The events of `kind` for `key_hash` in the `window` before `now`, oldest first.
std::expected<AccountStore::CodeEventTimes, AccountError> code_events(sql::Database& db, const char* kind, const std::string& key_hash,
                                                                      Timestamp now, Timestamp window = AccountStore::kCodeEventWindow) {
  Query q(db, "SELECT at FROM server_code_events WHERE kind = ? AND key_hash = ? AND at > ? ORDER BY at");
  return q.bind(kind).bind(key_hash).bind(now - window).collect([](const Query& row) { return row.int64(0); });
}

}  // namespace

std::expected<Timestamp, AccountError> AccountStore::reserve_code_send(
    const std::string& phone, const std::string& address, Timestamp now,
    const std::function<Timestamp(const CodeEventTimes& by_number, const CodeEventTimes& by_address)>& wait) {
  return reserve_events({"send_number", phone}, {"send_address", address}, kCodeEventWindow, now, wait);
}

std::expected<Timestamp, AccountError> AccountStore::reserve_kiosk_nonce(
    const std::string& kiosk, const std::string& address, Timestamp window, Timestamp now,
    const std::function<Timestamp(const CodeEventTimes& by_kiosk, const CodeEventTimes& by_address)>& wait) {
  return reserve_events({"nonce_kiosk", kiosk}, {"nonce_address", address}, window, now, wait);
}

std::expected<Timestamp, AccountError> AccountStore::reserve_events(
    const CountedKey& first, const CountedKey& second, Timestamp window, Timestamp now,
    const std::function<Timestamp(const CodeEventTimes& by_first, const CodeEventTimes& by_second)>& wait) {
  const std::string number_hash = sha256_hex(first.key), address_hash = sha256_hex(second.key);
  std::lock_guard lock(mutex_);
  const bool postgres = db_->dialect() == sql::Database::Dialect::postgres;
  if (auto ok = sql::exec(*db_, postgres ? "BEGIN" : "BEGIN IMMEDIATE"); !ok) return std::unexpected(ok.error());
  auto reserved = [&]() -> std::expected<Timestamp, AccountError> {
    if (postgres) {
      // One reservation at a time over every node: two nodes must not both see room for one.
      Query locked(*db_, "SELECT pg_advisory_xact_lock(hashtext('onevisit-codes:' || current_schema()))");
      if (auto ok = locked.run(); !ok) return std::unexpected(ok.error());
    }
    Query forget(*db_, "DELETE FROM server_code_events WHERE at <= ?");
    if (auto ok = forget.bind(now - kCodeEventWindow).run(); !ok) return std::unexpected(ok.error());
    auto by_number = code_events(*db_, first.kind, number_hash, now, window);
    if (!by_number) return std::unexpected(by_number.error());
    auto by_address = code_events(*db_, second.kind, address_hash, now, window);
    if (!by_address) return std::unexpected(by_address.error());
    const Timestamp waited = wait(*by_number, *by_address);
    if (waited > 0) return waited;
    for (const auto& [kind, key] : {std::pair{first.kind, &number_hash}, std::pair{second.kind, &address_hash}}) {
      Query add(*db_, "INSERT INTO server_code_events (kind, key_hash, at) VALUES (?,?,?)");
      if (auto ok = add.bind(kind).bind(*key).bind(now).run(); !ok) return std::unexpected(ok.error());
    }
    return Timestamp{0};
  }();
  if (!reserved) {
    (void)sql::exec(*db_, "ROLLBACK");
    return reserved;
  }
  if (auto committed = sql::exec(*db_, "COMMIT"); !committed) return std::unexpected(committed.error());
  return reserved;
}

std::expected<AccountStore::CodeEventTimes, AccountError> AccountStore::code_failures(const std::string& address, Timestamp now) {
  std::lock_guard lock(mutex_);
  return code_events(*db_, "failure_address", sha256_hex(address), now);
}

std::expected<void, AccountError> AccountStore::record_code_failure(const std::string& address, Timestamp now) {
  std::lock_guard lock(mutex_);
  Query forget(*db_, "DELETE FROM server_code_events WHERE at <= ?");
  if (auto ok = forget.bind(now - kCodeEventWindow).run(); !ok) return ok;
  Query add(*db_, "INSERT INTO server_code_events (kind, key_hash, at) VALUES ('failure_address', ?, ?)");
  return add.bind(sha256_hex(address)).bind(now).run();
}

std::expected<NewSession, AccountError> AccountStore::create_applicant_session(const std::string& identity_json, Timestamp now,
                                                                               Timestamp lifetime) {
  NewSession session{random_hex(32), random_hex(16), now + lifetime};
  std::lock_guard lock(mutex_);
  // Expired sessions, codes and logins are removed on the way.
  for (const char* cleanup : {"DELETE FROM server_applicant_sessions WHERE expires_at <= ?",
                              "DELETE FROM server_applicant_codes WHERE expires_at <= ?",
                              "DELETE FROM server_oidc_logins WHERE expires_at <= ?"}) {
    Query q(*db_, cleanup);
    if (auto ok = q.bind(now).run(); !ok) return std::unexpected(ok.error());
  }
  const std::string token_hash = sha256_hex(session.token);
  Query q(*db_, "INSERT INTO server_applicant_sessions (token_hash, identity, csrf_token, created_at, expires_at) VALUES (?,?,?,?,?)");
  if (auto ok = q.bind(token_hash).bind(sealed(identity_json, session_place(token_hash))).bind(session.csrf_token).bind(now)
                    .bind(session.expires_at).run();
      !ok) {
    return std::unexpected(ok.error());
  }
  return session;
}

std::expected<std::optional<ApplicantSessionInfo>, AccountError> AccountStore::find_applicant_session(std::string_view token, Timestamp now) {
  std::lock_guard lock(mutex_);
  const std::string token_hash = sha256_hex(token);
  Query q(*db_, "SELECT identity, csrf_token, expires_at FROM server_applicant_sessions WHERE token_hash = ?");
  auto rows = q.bind(token_hash).collect([](const Query& row) { return ApplicantSessionInfo{row.text(0), row.text(1), row.int64(2)}; });
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty() || rows->front().expires_at <= now) return std::nullopt;
  auto identity = opened(rows->front().identity_json, session_place(token_hash));
  if (!identity) return std::unexpected(identity.error());
  rows->front().identity_json = std::move(*identity);
  return rows->front();
}

std::expected<void, AccountError> AccountStore::update_applicant_session(std::string_view token, const std::string& identity_json) {
  std::lock_guard lock(mutex_);
  const std::string token_hash = sha256_hex(token);
  Query q(*db_, "UPDATE server_applicant_sessions SET identity = ? WHERE token_hash = ?");
  return q.bind(sealed(identity_json, session_place(token_hash))).bind(token_hash).run();
}

std::expected<void, AccountError> AccountStore::delete_applicant_session(std::string_view token) {
  std::lock_guard lock(mutex_);
  Query q(*db_, "DELETE FROM server_applicant_sessions WHERE token_hash = ?");
  return q.bind(sha256_hex(token)).run();
}

std::expected<void, AccountError> AccountStore::store_oidc_login(std::string_view state, const OidcLogin& login, Timestamp expires_at) {
  std::lock_guard lock(mutex_);
  Query q(*db_, "INSERT INTO server_oidc_logins (state_hash, nonce, return_to, expires_at) VALUES (?,?,?,?)");
  return q.bind(sha256_hex(state)).bind(login.nonce).bind(login.return_to).bind(expires_at).run();
}

std::expected<std::optional<OidcLogin>, AccountError> AccountStore::take_oidc_login(std::string_view state, Timestamp now) {
  const std::string state_hash = sha256_hex(state);
  std::lock_guard lock(mutex_);
  // Read and removed in one statement: of two nodes taking one state, one gets it.
  Query q(*db_, "DELETE FROM server_oidc_logins WHERE state_hash = ? RETURNING nonce, return_to, expires_at");
  auto row = q.bind(state_hash).step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::nullopt;
  OidcLogin login{q.text(0), q.text(1)};
  const Timestamp expires_at = q.int64(2);
  if (expires_at <= now) return std::nullopt;
  return login;
}

std::expected<void, AccountError> AccountStore::save_draft(const std::string& owner, const ApplicantDraft& draft) {
  std::lock_guard lock(mutex_);
  Query q(*db_,
          "INSERT INTO server_applicant_drafts (owner_hash, draft, bundle, version, content, updated_at) VALUES (?,?,?,?,?,?) "
          "ON CONFLICT(owner_hash, draft) DO UPDATE SET bundle = excluded.bundle, version = excluded.version, "
          "content = excluded.content, updated_at = excluded.updated_at");
  const std::string owner_hash = sha256_hex(owner);
  return q.bind(owner_hash).bind(draft.id).bind(draft.bundle).bind(std::int64_t{draft.version})
      .bind(sealed(draft.content, draft_place(owner_hash, draft.id))).bind(draft.updated_at).run();
}

namespace {
ApplicantDraft read_draft(const Query& q) { return ApplicantDraft{q.text(0), q.text(1), static_cast<int>(q.int64(2)), q.text(3), q.int64(4), q.text(5)}; }
}  // namespace

std::string AccountStore::sealed(std::string_view clear, std::string_view place) const {
  return keys_ ? engine::seal_text(*keys_, clear, place) : std::string(clear);
}

std::expected<std::string, AccountError> AccountStore::opened(std::string_view stored, std::string_view place) const {
  static const engine::AtRestKeys kNone;
  auto clear = engine::open_text(keys_ ? *keys_ : kNone, stored, place);
  if (!clear) return std::unexpected(AccountError{AccountError::Kind::io, "an applicant's " + std::string(place.substr(0, place.find('/'))) + ": " + clear.error()});
  return std::move(*clear);
}

std::expected<std::vector<ApplicantDraft>, AccountError> AccountStore::drafts(const std::vector<std::string>& owners) {
  std::vector<ApplicantDraft> all;
  std::lock_guard lock(mutex_);
  for (const auto& owner : owners) {
    const std::string owner_hash = sha256_hex(owner);
    Query q(*db_, "SELECT draft, bundle, version, content, updated_at, case_id FROM server_applicant_drafts WHERE owner_hash = ?");
    auto rows = q.bind(owner_hash).collect(read_draft);
    if (!rows) return std::unexpected(rows.error());
    for (auto& d : *rows) {
      auto content = opened(d.content, draft_place(owner_hash, d.id));
      if (!content) return std::unexpected(content.error());
      d.content = std::move(*content);
    }
    all.insert(all.end(), rows->begin(), rows->end());
  }
  std::sort(all.begin(), all.end(), [](const auto& a, const auto& b) { return a.updated_at > b.updated_at; });
  return all;
}

std::expected<std::optional<ApplicantDraft>, AccountError> AccountStore::draft(const std::vector<std::string>& owners, const std::string& id) {
  std::lock_guard lock(mutex_);
  for (const auto& owner : owners) {
    const std::string owner_hash = sha256_hex(owner);
    Query q(*db_, "SELECT draft, bundle, version, content, updated_at, case_id FROM server_applicant_drafts WHERE owner_hash = ? AND draft = ?");
    auto rows = q.bind(owner_hash).bind(id).collect(read_draft);
    if (!rows) return std::unexpected(rows.error());
    if (rows->empty()) continue;
    auto content = opened(rows->front().content, draft_place(owner_hash, id));
    if (!content) return std::unexpected(content.error());
    rows->front().content = std::move(*content);
    return rows->front();
  }
  return std::nullopt;
}

std::expected<void, AccountError> AccountStore::delete_draft(const std::vector<std::string>& owners, const std::string& id) {
  std::lock_guard lock(mutex_);
  for (const auto& owner : owners) {
    Query q(*db_, "DELETE FROM server_applicant_drafts WHERE owner_hash = ? AND draft = ?");
    if (auto ok = q.bind(sha256_hex(owner)).bind(id).run(); !ok) return ok;
  }
  return {};
}

std::expected<void, AccountError> AccountStore::mark_draft_submitted(const std::vector<std::string>& owners, const std::string& id,
                                                                     const std::string& case_id) {
  std::lock_guard lock(mutex_);
  for (const auto& owner : owners) {
    Query q(*db_, "UPDATE server_applicant_drafts SET case_id = ? WHERE owner_hash = ? AND draft = ?");
    if (auto ok = q.bind(case_id).bind(sha256_hex(owner)).bind(id).run(); !ok) return ok;
  }
  return {};
}

}  // namespace onevisit::server
