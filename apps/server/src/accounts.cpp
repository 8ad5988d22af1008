#include "accounts.hpp"

#include "account_database.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <ctime>
#include <functional>

namespace onevisit::server {

std::string_view to_string(Role role) {
  switch (role) {
    case Role::window_clerk: return "window_clerk";
    case Role::reviewer: return "reviewer";
    case Role::supervisor: return "supervisor";
    case Role::designer: return "designer";
    case Role::admin: return "admin";
    case Role::department_system: return "department_system";
  }
  return "?";
}

std::optional<Role> parse_role(std::string_view text) {
  for (const auto role : kAllRoles) {
    if (to_string(role) == text) return role;
  }
  return std::nullopt;
}

std::string_view engine_role(Role role) {
  switch (role) {
    case Role::window_clerk: return "clerk";
    case Role::reviewer: return "reviewer";
    case Role::supervisor: return "supervisor";
    default: return "";
  }
}

PasswordCost PasswordCost::interactive() {
  return {crypto_pwhash_OPSLIMIT_INTERACTIVE, crypto_pwhash_MEMLIMIT_INTERACTIVE};
}
PasswordCost PasswordCost::minimal() { return {crypto_pwhash_OPSLIMIT_MIN, crypto_pwhash_MEMLIMIT_MIN}; }

std::string random_hex(std::size_t bytes) {
  std::string raw(bytes, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string hex(bytes * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  hex.pop_back();
  return hex;
}

std::string sha256_hex(std::string_view text) {
  std::array<unsigned char, crypto_hash_sha256_BYTES> digest{};
  crypto_hash_sha256(digest.data(), reinterpret_cast<const unsigned char*>(text.data()), text.size());
  std::string hex(digest.size() * 2 + 1, '\0');
  sodium_bin2hex(hex.data(), hex.size(), digest.data(), digest.size());
  hex.pop_back();
  return hex;
}

namespace {

using Kind = AccountError::Kind;
using sql::Database;
using sql::exec;
using sql::Query;

// Migrations, applied in order, each once, each in its own transaction. An old migration
// never changes; a new schema change is a new entry, in both lists (SQLite, PostgreSQL): the
// versions mean the same tables in both dialects.
constexpr const char* kSqliteMigrations[] = {
    // 1: accounts, sessions, tokens, audit trail.
    R"(CREATE TABLE server_users (
         name TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL,
         department TEXT NOT NULL DEFAULT '', password_hash TEXT NOT NULL,
         disabled INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL);
       CREATE TABLE server_sessions (
         token_hash TEXT PRIMARY KEY, user_name TEXT NOT NULL REFERENCES server_users(name),
         csrf_token TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
       CREATE TABLE server_api_tokens (
         id INTEGER PRIMARY KEY AUTOINCREMENT, user_name TEXT NOT NULL REFERENCES server_users(name),
         name TEXT NOT NULL, scope TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
         created_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL DEFAULT 0);
       CREATE TABLE server_audit (
         sequence INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL, actor TEXT NOT NULL,
         role TEXT NOT NULL, remote_address TEXT NOT NULL, action TEXT NOT NULL,
         target TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL);
       CREATE INDEX server_audit_by_target ON server_audit(target, sequence);
       CREATE TRIGGER server_audit_no_update BEFORE UPDATE ON server_audit
         BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;
       CREATE TRIGGER server_audit_no_delete BEFORE DELETE ON server_audit
         BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;)",
    // 2: refusals counted into one record (count, the last one's time and action); records
    // past their retention may be pruned, only by the service's own connection, which
    // defines server_audit_prune_cutoff() (anywhere else the DELETE fails on the missing
    // function) and returns a cutoff above 0 only inside AccountStore::prune_audit.
    R"(ALTER TABLE server_audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
       ALTER TABLE server_audit ADD COLUMN last_at INTEGER NOT NULL DEFAULT 0;
       ALTER TABLE server_audit ADD COLUMN last_action TEXT NOT NULL DEFAULT '';
       CREATE INDEX server_audit_by_at ON server_audit(at);
       DROP TRIGGER server_audit_no_delete;
       CREATE TRIGGER server_audit_no_delete BEFORE DELETE ON server_audit
         WHEN OLD.at >= server_audit_prune_cutoff()
         BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only: only records past their retention are pruned'); END;)",
    // 3: the applicant channel (issue 15): one-time SMS codes by the SHA-256 of the number,
    // applicants' sessions (apart from staff sessions), OpenID Connect logins begun.
    R"(CREATE TABLE server_applicant_codes (
         phone_hash TEXT PRIMARY KEY, code_digest TEXT NOT NULL, code_key TEXT NOT NULL,
         expires_at INTEGER NOT NULL, attempts_left INTEGER NOT NULL);
       CREATE TABLE server_applicant_sessions (
         token_hash TEXT PRIMARY KEY, identity TEXT NOT NULL, csrf_token TEXT NOT NULL,
         created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL);
       CREATE TABLE server_oidc_logins (
         state_hash TEXT PRIMARY KEY, nonce TEXT NOT NULL, return_to TEXT NOT NULL, expires_at INTEGER NOT NULL);)",
    // 4: applicants' drafts, by the SHA-256 of the owner's key and the draft's id; the case a
    // submitted draft became.
    R"(CREATE TABLE server_applicant_drafts (
         owner_hash TEXT NOT NULL, draft TEXT NOT NULL, bundle TEXT NOT NULL, version INTEGER NOT NULL,
         content TEXT NOT NULL, updated_at INTEGER NOT NULL, case_id TEXT NOT NULL DEFAULT '',
         PRIMARY KEY (owner_hash, draft));)",
    // 5: one-time code requests and wrong codes (code_throttle.hpp), counted in the database
    // rather than in each node's memory, so that nodes sharing it count together. kind:
    // send_number, send_address, failure_address; key_hash: the SHA-256 of the number or
    // address.
    R"(CREATE TABLE server_code_events (kind TEXT NOT NULL, key_hash TEXT NOT NULL, at INTEGER NOT NULL);
       CREATE INDEX server_code_events_by_key ON server_code_events(kind, key_hash, at);
       CREATE INDEX server_code_events_by_at ON server_code_events(at);)",
    // 6: self-service kiosks (docs/applicant.md, "The kiosk"): the registered devices with the
    // public half of each one's Ed25519 key, and the one-time nonces their card reads sign.
    R"(CREATE TABLE server_kiosks (
         kiosk TEXT PRIMARY KEY, title TEXT NOT NULL, public_key TEXT NOT NULL,
         registered_by TEXT NOT NULL, registered_at INTEGER NOT NULL, revoked_at INTEGER NOT NULL DEFAULT 0);
       CREATE TABLE server_kiosk_nonces (
         nonce_hash TEXT PRIMARY KEY, kiosk TEXT NOT NULL, expires_at INTEGER NOT NULL);)",
    // 7: the staff login throttle's counters (login_throttle.hpp), in the database so that
    // nodes sharing it count one guesser's failures together. key_hash: the SHA-256 of the
    // counter's key (its kind, the user name and/or the address); known addresses by the
    // SHA-256 of the user name and of the address.
    R"(CREATE TABLE server_login_counters (key_hash TEXT PRIMARY KEY, failures INTEGER NOT NULL, last INTEGER NOT NULL);
       CREATE INDEX server_login_counters_by_last ON server_login_counters(last);
       CREATE TABLE server_login_addresses (user_hash TEXT NOT NULL, address_hash TEXT NOT NULL, at INTEGER NOT NULL,
         PRIMARY KEY (user_hash, address_hash));)",
};

// The same tables in PostgreSQL's dialect: identity columns for AUTOINCREMENT, BIGINT for
// times, one trigger function for the append-only audit trail. The records past their
// retention may be deleted inside AccountStore::prune_audit's transaction, which sets
// onevisit.audit_prune_cutoff for itself (set_config(…, true)); every other DELETE fails.
constexpr const char* kPostgresMigrations[] = {
    // 1: accounts, sessions, tokens, audit trail.
    R"(CREATE TABLE server_users (
         name TEXT PRIMARY KEY, display_name TEXT NOT NULL, role TEXT NOT NULL,
         department TEXT NOT NULL DEFAULT '', password_hash TEXT NOT NULL,
         disabled INTEGER NOT NULL DEFAULT 0, created_at BIGINT NOT NULL);
       CREATE TABLE server_sessions (
         token_hash TEXT PRIMARY KEY, user_name TEXT NOT NULL REFERENCES server_users(name),
         csrf_token TEXT NOT NULL, created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
       CREATE TABLE server_api_tokens (
         id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, user_name TEXT NOT NULL REFERENCES server_users(name),
         name TEXT NOT NULL, scope TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
         created_at BIGINT NOT NULL, revoked_at BIGINT NOT NULL DEFAULT 0);
       CREATE TABLE server_audit (
         sequence BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL, actor TEXT NOT NULL,
         role TEXT NOT NULL, remote_address TEXT NOT NULL, action TEXT NOT NULL,
         target TEXT NOT NULL, outcome TEXT NOT NULL, detail TEXT NOT NULL);
       CREATE INDEX server_audit_by_target ON server_audit(target, sequence);
       CREATE FUNCTION server_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
       CREATE TRIGGER server_audit_no_update BEFORE UPDATE ON server_audit
         FOR EACH ROW EXECUTE FUNCTION server_audit_append_only();
       CREATE TRIGGER server_audit_no_delete BEFORE DELETE ON server_audit
         FOR EACH ROW EXECUTE FUNCTION server_audit_append_only();)",
    // 2: refusals counted into one record; records past their retention may be pruned.
    R"(ALTER TABLE server_audit ADD COLUMN count BIGINT NOT NULL DEFAULT 1;
       ALTER TABLE server_audit ADD COLUMN last_at BIGINT NOT NULL DEFAULT 0;
       ALTER TABLE server_audit ADD COLUMN last_action TEXT NOT NULL DEFAULT '';
       CREATE INDEX server_audit_by_at ON server_audit(at);
       DROP TRIGGER server_audit_no_delete ON server_audit;
       CREATE FUNCTION server_audit_prune_only() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF OLD.at >= COALESCE(NULLIF(current_setting('onevisit.audit_prune_cutoff', true), ''), '0')::bigint THEN
             RAISE EXCEPTION 'the audit trail is append-only: only records past their retention are pruned';
           END IF;
           RETURN OLD;
         END $$;
       CREATE TRIGGER server_audit_no_delete BEFORE DELETE ON server_audit
         FOR EACH ROW EXECUTE FUNCTION server_audit_prune_only();)",
    // 3: the applicant channel: one-time SMS codes, applicants' sessions, OIDC logins begun.
    R"(CREATE TABLE server_applicant_codes (
         phone_hash TEXT PRIMARY KEY, code_digest TEXT NOT NULL, code_key TEXT NOT NULL,
         expires_at BIGINT NOT NULL, attempts_left INTEGER NOT NULL);
       CREATE TABLE server_applicant_sessions (
         token_hash TEXT PRIMARY KEY, identity TEXT NOT NULL, csrf_token TEXT NOT NULL,
         created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL);
       CREATE TABLE server_oidc_logins (
         state_hash TEXT PRIMARY KEY, nonce TEXT NOT NULL, return_to TEXT NOT NULL, expires_at BIGINT NOT NULL);)",
    // 4: applicants' drafts.
    R"(CREATE TABLE server_applicant_drafts (
         owner_hash TEXT NOT NULL, draft TEXT NOT NULL, bundle TEXT NOT NULL, version INTEGER NOT NULL,
         content TEXT NOT NULL, updated_at BIGINT NOT NULL, case_id TEXT NOT NULL DEFAULT '',
         PRIMARY KEY (owner_hash, draft));)",
    // 5: one-time code requests and wrong codes.
    R"(CREATE TABLE server_code_events (kind TEXT NOT NULL, key_hash TEXT NOT NULL, at BIGINT NOT NULL);
       CREATE INDEX server_code_events_by_key ON server_code_events(kind, key_hash, at);
       CREATE INDEX server_code_events_by_at ON server_code_events(at);)",
    // 6: self-service kiosks and the nonces their card reads sign.
    R"(CREATE TABLE server_kiosks (
         kiosk TEXT PRIMARY KEY, title TEXT NOT NULL, public_key TEXT NOT NULL,
         registered_by TEXT NOT NULL, registered_at BIGINT NOT NULL, revoked_at BIGINT NOT NULL DEFAULT 0);
       CREATE TABLE server_kiosk_nonces (
         nonce_hash TEXT PRIMARY KEY, kiosk TEXT NOT NULL, expires_at BIGINT NOT NULL);)",
    // 7: the staff login throttle's counters and known addresses.
    R"(CREATE TABLE server_login_counters (key_hash TEXT PRIMARY KEY, failures INTEGER NOT NULL, last BIGINT NOT NULL);
       CREATE INDEX server_login_counters_by_last ON server_login_counters(last);
       CREATE TABLE server_login_addresses (user_hash TEXT NOT NULL, address_hash TEXT NOT NULL, at BIGINT NOT NULL,
         PRIMARY KEY (user_hash, address_hash));)",
};
static_assert(std::size(kSqliteMigrations) == std::size(kPostgresMigrations), "one migration per version in each dialect");

// Opens a write transaction: SQLite takes the write lock at once (no upgrade deadlock later).
const char* begin_write(const Database& db) { return db.dialect() == Database::Dialect::sqlite ? "BEGIN IMMEDIATE" : "BEGIN"; }

User read_user(const Query& q) {
  User u;
  u.name = q.text(0);
  u.display_name = q.text(1);
  u.role = parse_role(q.text(2)).value_or(Role::window_clerk);
  u.department = q.text(3);
  u.disabled = q.int64(4) != 0;
  u.created_at = q.int64(5);
  return u;
}
constexpr const char* kUserColumns = "name, display_name, role, department, disabled, created_at";

ApiToken read_token(const Query& q) {
  return ApiToken{q.int64(0), q.text(1), q.text(2), q.text(3), q.int64(4), q.int64(5)};
}

bool valid_user_name(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
  });
}

}  // namespace

std::expected<std::unique_ptr<AccountStore>, AccountError> AccountStore::open(const std::string& database, PasswordCost cost,
                                                                              std::shared_ptr<const engine::AtRestKeys> keys) {
  if (sodium_init() < 0) return std::unexpected(AccountError{Kind::io, "libsodium cannot start"});
  std::unique_ptr<AccountStore> store(new AccountStore(cost));
  if (keys && !keys->empty()) store->keys_ = std::move(keys);
  auto db = engine::is_postgres_url(database) ? sql::open_postgres_database(database)
                                              : sql::open_sqlite_database(database, &store->prune_cutoff_);
  if (!db) return std::unexpected(db.error());
  store->db_ = std::move(*db);
  // Checked against for unknown and disabled users, so that they take as long as a wrong
  // password.
  if (auto ok = store->hash_password(random_hex(16), store->dummy_hash_); !ok) return std::unexpected(ok.error());
  if (auto migrated = store->migrate(); !migrated) return std::unexpected(migrated.error());
  return store;
}

AccountStore::AccountStore(PasswordCost cost) : cost_(cost) {}
AccountStore::~AccountStore() = default;

std::expected<void, AccountError> AccountStore::migrate() {
  std::lock_guard lock(mutex_);
  const bool postgres = db_->dialect() == Database::Dialect::postgres;
  const auto& migrations = postgres ? kPostgresMigrations : kSqliteMigrations;
  constexpr int kLatest = static_cast<int>(std::size(kSqliteMigrations));
  // Each step re-reads the version inside its write transaction: nodes started together
  // (PostgreSQL: serialised by an advisory lock) migrate once.
  for (;;) {
    if (auto ok = exec(*db_, begin_write(*db_)); !ok) return ok;
    auto step = [&]() -> std::expected<bool, AccountError> {
      if (postgres) {
        Query locked(*db_, "SELECT pg_advisory_xact_lock(hashtext('onevisit-server:' || current_schema()))");
        if (auto ok = locked.run(); !ok) return std::unexpected(ok.error());
      }
      if (auto ok = exec(*db_, "CREATE TABLE IF NOT EXISTS server_schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)");
          !ok) {
        return std::unexpected(ok.error());
      }
      Query current(*db_, "SELECT COALESCE(MAX(version), 0) FROM server_schema_migrations");
      if (auto row = current.step(); !row) return std::unexpected(row.error());
      const int applied = static_cast<int>(current.int64(0));
      if (applied > kLatest) {
        return std::unexpected(AccountError{Kind::invalid, db_->where() + " has server schema version " + std::to_string(applied) +
                                                               ", newer than this build reads (" + std::to_string(kLatest) + ")"});
      }
      if (applied == kLatest) return false;
      const int version = applied + 1;
      auto ok = exec(*db_, migrations[version - 1]);
      if (ok) {
        Query record(*db_, "INSERT INTO server_schema_migrations (version, applied_at) VALUES (?, ?)");
        ok = record.bind(version).bind(static_cast<std::int64_t>(std::time(nullptr))).run();
      }
      if (!ok) {
        return std::unexpected(AccountError{ok.error().kind, "server schema migration " + std::to_string(version) + ": " + ok.error().message});
      }
      return true;
    }();
    if (!step) {
      (void)exec(*db_, "ROLLBACK");
      return std::unexpected(step.error());
    }
    if (auto committed = exec(*db_, "COMMIT"); !committed) return committed;
    if (!*step) break;
  }
  schema_version_ = kLatest;
  return {};
}

std::expected<void, AccountError> AccountStore::hash_password(std::string_view password, std::string& hash) const {
  hash.assign(crypto_pwhash_STRBYTES, '\0');
  if (crypto_pwhash_str_alg(hash.data(), password.data(), password.size(), cost_.ops, cost_.memory, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return std::unexpected(AccountError{Kind::io, "out of memory while hashing the password"});
  }
  hash.resize(std::strlen(hash.c_str()));
  return {};
}

std::expected<std::size_t, AccountError> AccountStore::user_count() {
  std::lock_guard lock(mutex_);
  Query q(*db_, "SELECT COUNT(*) FROM server_users");
  auto row = q.step();
  if (!row) return std::unexpected(row.error());
  return static_cast<std::size_t>(q.int64(0));
}

std::expected<User, AccountError> AccountStore::create_user(User user, std::string_view password, Timestamp now) {
  if (!valid_user_name(user.name)) {
    return std::unexpected(AccountError{Kind::invalid, "用户名应为 1 到 64 个小写字母、数字或 _ . -"});
  }
  if (password.size() < 8) return std::unexpected(AccountError{Kind::invalid, "密码至少 8 个字符"});
  if (bound_to_department(user.role) && user.department.empty()) {
    return std::unexpected(AccountError{Kind::invalid, "部门审核人员和部门系统须选择所属部门"});
  }
  std::string hash;
  if (auto ok = hash_password(password, hash); !ok) return std::unexpected(ok.error());
  if (user.display_name.empty()) user.display_name = user.name;
  user.created_at = now;
  std::lock_guard lock(mutex_);
  Query q(*db_, "INSERT INTO server_users (name, display_name, role, department, password_hash, disabled, created_at) VALUES (?,?,?,?,?,?,?)");
  auto ok = q.bind(user.name).bind(user.display_name).bind(to_string(user.role)).bind(user.department).bind(hash)
                .bind(std::int64_t{user.disabled}).bind(now).run();
  if (!ok) {
    if (ok.error().kind == Kind::conflict) return std::unexpected(AccountError{Kind::conflict, "已有名为“" + user.name + "”的用户"});
    return std::unexpected(ok.error());
  }
  return user;
}

std::expected<std::optional<User>, AccountError> AccountStore::find_user_locked(const std::string& name) {
  Query q(*db_, "SELECT name, display_name, role, department, disabled, created_at FROM server_users WHERE name = ?");
  auto rows = q.bind(name).collect(read_user);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::nullopt;
  return rows->front();
}

std::expected<std::optional<User>, AccountError> AccountStore::find_user(const std::string& name) {
  std::lock_guard lock(mutex_);
  return find_user_locked(name);
}

std::expected<User, AccountError> AccountStore::update_user(const std::string& name, const UserChange& change) {
  std::string hash;
  if (change.password) {
    if (change.password->size() < 8) return std::unexpected(AccountError{Kind::invalid, "密码至少 8 个字符"});
    if (auto ok = hash_password(*change.password, hash); !ok) return std::unexpected(ok.error());
  }
  std::lock_guard lock(mutex_);
  auto found = find_user_locked(name);
  if (!found) return std::unexpected(found.error());
  if (!*found) return std::unexpected(AccountError{Kind::not_found, "没有用户“" + name + "”"});
  User user = **found;
  const bool role_changed = change.role && *change.role != user.role;
  if (change.display_name) user.display_name = *change.display_name;
  if (change.role) user.role = *change.role;
  if (change.department) user.department = *change.department;
  if (change.disabled) user.disabled = *change.disabled;
  if (bound_to_department(user.role) && user.department.empty()) {
    return std::unexpected(AccountError{Kind::invalid, "部门审核人员和部门系统须选择所属部门"});
  }
  if (auto ok = exec(*db_, begin_write(*db_)); !ok) return std::unexpected(ok.error());
  Query q(*db_, "UPDATE server_users SET display_name = ?, role = ?, department = ?, disabled = ? WHERE name = ?");
  auto ok = q.bind(user.display_name).bind(to_string(user.role)).bind(user.department).bind(std::int64_t{user.disabled}).bind(name).run();
  if (ok && !hash.empty()) {
    Query p(*db_, "UPDATE server_users SET password_hash = ? WHERE name = ?");
    ok = p.bind(hash).bind(name).run();
  }
  // A changed password, a changed role (a department system has no sessions) or a disabled
  // account ends the user's sessions.
  if (ok && (!hash.empty() || user.disabled || role_changed)) {
    Query s(*db_, "DELETE FROM server_sessions WHERE user_name = ?");
    ok = s.bind(name).run();
  }
  if (!ok) {
    (void)exec(*db_, "ROLLBACK");
    return std::unexpected(ok.error());
  }
  if (auto committed = exec(*db_, "COMMIT"); !committed) return std::unexpected(committed.error());
  return user;
}

std::expected<std::vector<User>, AccountError> AccountStore::users() {
  std::lock_guard lock(mutex_);
  Query q(*db_, "SELECT name, display_name, role, department, disabled, created_at FROM server_users ORDER BY name");
  return q.collect(read_user);
}

std::expected<std::optional<User>, AccountError> AccountStore::authenticate(const std::string& name, std::string_view password) {
  std::string hash;
  std::optional<User> user;
  {
    std::lock_guard lock(mutex_);
    Query q(*db_, "SELECT name, display_name, role, department, disabled, created_at, password_hash FROM server_users WHERE name = ?");
    auto rows = q.bind(name).collect([](const Query& row) { return std::pair(read_user(row), row.text(6)); });
    if (!rows) return std::unexpected(rows.error());
    if (!rows->empty()) {
      user = rows->front().first;
      hash = rows->front().second;
    }
  }
  // Verified outside the lock: argon2id is slow on purpose. Unknown and disabled users are
  // checked against the dummy hash, so that the time taken tells nothing.
  const bool may_log_in = user && !user->disabled;
  const std::string& checked = may_log_in ? hash : dummy_hash_;
  const bool right = crypto_pwhash_str_verify(checked.c_str(), password.data(), password.size()) == 0;
  if (!may_log_in || !right) return std::nullopt;
  return user;
}

std::expected<NewSession, AccountError> AccountStore::create_session(const std::string& user, Timestamp now, Timestamp lifetime) {
  NewSession session{random_hex(32), random_hex(16), now + lifetime};
  std::lock_guard lock(mutex_);
  // Expired sessions are removed on the way.
  Query cleanup(*db_, "DELETE FROM server_sessions WHERE expires_at <= ?");
  if (auto ok = cleanup.bind(now).run(); !ok) return std::unexpected(ok.error());
  Query q(*db_, "INSERT INTO server_sessions (token_hash, user_name, csrf_token, created_at, expires_at) VALUES (?,?,?,?,?)");
  if (auto ok = q.bind(sha256_hex(session.token)).bind(user).bind(session.csrf_token).bind(now).bind(session.expires_at).run(); !ok) {
    return std::unexpected(ok.error());
  }
  return session;
}

std::expected<std::optional<SessionInfo>, AccountError> AccountStore::find_session(std::string_view token, Timestamp now) {
  std::lock_guard lock(mutex_);
  Query q(*db_,
          "SELECT u.name, u.display_name, u.role, u.department, u.disabled, u.created_at, s.csrf_token, s.expires_at "
          "FROM server_sessions s JOIN server_users u ON u.name = s.user_name WHERE s.token_hash = ?");
  auto rows = q.bind(sha256_hex(token)).collect([](const Query& row) {
    return SessionInfo{read_user(row), row.text(6), row.int64(7)};
  });
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::nullopt;
  auto& info = rows->front();
  if (info.expires_at <= now || info.user.disabled) return std::nullopt;
  return info;
}

std::expected<void, AccountError> AccountStore::delete_session(std::string_view token) {
  std::lock_guard lock(mutex_);
  Query q(*db_, "DELETE FROM server_sessions WHERE token_hash = ?");
  return q.bind(sha256_hex(token)).run();
}

std::expected<std::pair<ApiToken, std::string>, AccountError> AccountStore::create_token(const std::string& user, const std::string& name,
                                                                                        const std::string& scope, Timestamp now) {
  if (scope != "read" && scope != "write") return std::unexpected(AccountError{Kind::invalid, "令牌权限范围只能是只读（read）或读写（write）"});
  if (name.empty() || name.size() > 100) return std::unexpected(AccountError{Kind::invalid, "令牌须有名称（最多 100 字节）"});
  const std::string secret = "ovt_" + random_hex(24);
  std::lock_guard lock(mutex_);
  Query q(*db_, "INSERT INTO server_api_tokens (user_name, name, scope, token_hash, created_at) VALUES (?,?,?,?,?) RETURNING id");
  auto inserted = q.bind(user).bind(name).bind(scope).bind(sha256_hex(secret)).bind(now).step();
  if (!inserted) {
    if (inserted.error().kind == Kind::conflict) return std::unexpected(AccountError{Kind::not_found, "没有用户“" + user + "”"});
    return std::unexpected(inserted.error());
  }
  return std::pair(ApiToken{q.int64(0), user, name, scope, now, 0}, secret);
}

std::expected<std::optional<std::pair<User, ApiToken>>, AccountError> AccountStore::find_token(std::string_view secret) {
  std::lock_guard lock(mutex_);
  Query q(*db_,
          "SELECT u.name, u.display_name, u.role, u.department, u.disabled, u.created_at, "
          "t.id, t.name, t.scope, t.created_at, t.revoked_at "
          "FROM server_api_tokens t JOIN server_users u ON u.name = t.user_name WHERE t.token_hash = ?");
  auto rows = q.bind(sha256_hex(secret)).collect([](const Query& row) {
    User user = read_user(row);
    ApiToken token{row.int64(6), user.name, row.text(7), row.text(8), row.int64(9), row.int64(10)};
    return std::pair(std::move(user), std::move(token));
  });
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::nullopt;
  if (rows->front().second.revoked_at != 0 || rows->front().first.disabled) return std::nullopt;
  return rows->front();
}

std::expected<std::vector<ApiToken>, AccountError> AccountStore::tokens(const std::optional<std::string>& user) {
  std::lock_guard lock(mutex_);
  if (user) {
    Query q(*db_, "SELECT id, user_name, name, scope, created_at, revoked_at FROM server_api_tokens WHERE user_name = ? ORDER BY id");
    return q.bind(*user).collect(read_token);
  }
  Query q(*db_, "SELECT id, user_name, name, scope, created_at, revoked_at FROM server_api_tokens ORDER BY id");
  return q.collect(read_token);
}

std::expected<std::optional<ApiToken>, AccountError> AccountStore::token(std::int64_t id) {
  std::lock_guard lock(mutex_);
  Query q(*db_, "SELECT id, user_name, name, scope, created_at, revoked_at FROM server_api_tokens WHERE id = ?");
  auto rows = q.bind(id).collect(read_token);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::nullopt;
  return rows->front();
}

std::expected<void, AccountError> AccountStore::revoke_token(std::int64_t id, Timestamp now) {
  std::lock_guard lock(mutex_);
  Query q(*db_, "UPDATE server_api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at = 0");
  return q.bind(now).bind(id).run();
}

std::expected<void, AccountError> AccountStore::append_audit(const AuditRecord& r) {
  std::lock_guard lock(mutex_);
  auto appended = append_audit_locked(r);
  if (!appended) return std::unexpected(appended.error());
  return {};
}

std::expected<std::int64_t, AccountError> AccountStore::append_audit_locked(const AuditRecord& r) {
  Query q(*db_,
          "INSERT INTO server_audit (at, actor, role, remote_address, action, target, outcome, detail, count, last_at, last_action) "
          "VALUES (?,?,?,?,?,?,?,?,?,?,?) RETURNING sequence");
  auto inserted = q.bind(r.at).bind(r.actor).bind(r.role).bind(r.remote_address).bind(r.action).bind(r.target).bind(r.outcome)
                      .bind(r.detail).bind(r.count).bind(r.last_at == 0 ? r.at : r.last_at)
                      .bind(r.last_action.empty() ? r.action : r.last_action).step();
  if (!inserted) return std::unexpected(inserted.error());
  return q.int64(0);
}

std::expected<std::vector<AuditRecord>, AccountError> AccountStore::audit(std::size_t limit, std::size_t offset,
                                                                         const std::optional<std::string>& target) {
  auto read = [](const Query& q) {
    AuditRecord r{q.int64(0), q.int64(1), q.text(2), q.text(3), q.text(4), q.text(5), q.text(6), q.text(7), q.text(8),
                  q.int64(9), q.int64(10), q.text(11)};
    // Records from before migration 2 carry the defaults.
    if (r.last_at == 0) r.last_at = r.at;
    if (r.last_action.empty()) r.last_action = r.action;
    return r;
  };
  std::lock_guard lock(mutex_);
  if (target) {
    Query q(*db_,
            "SELECT sequence, at, actor, role, remote_address, action, target, outcome, detail, count, last_at, last_action "
            "FROM server_audit WHERE target = ? ORDER BY sequence DESC LIMIT ? OFFSET ?");
    return q.bind(*target).bind(static_cast<std::int64_t>(limit)).bind(static_cast<std::int64_t>(offset)).collect(read);
  }
  Query q(*db_,
          "SELECT sequence, at, actor, role, remote_address, action, target, outcome, detail, count, last_at, last_action "
          "FROM server_audit ORDER BY sequence DESC LIMIT ? OFFSET ?");
  return q.bind(static_cast<std::int64_t>(limit)).bind(static_cast<std::int64_t>(offset)).collect(read);
}

std::expected<AuditRecord, AccountError> AccountStore::prune_audit(Timestamp before,
                                                                  const std::function<AuditRecord(const PrunedAudit&)>& describe) {
  std::lock_guard lock(mutex_);
  if (auto ok = exec(*db_, begin_write(*db_)); !ok) return std::unexpected(ok.error());
  auto pruned = [&]() -> std::expected<AuditRecord, AccountError> {
    Query range(*db_, "SELECT COUNT(*), COALESCE(MIN(at), 0), COALESCE(MAX(at), 0) FROM server_audit WHERE at < ?");
    auto row = range.bind(before).step();
    if (!row) return std::unexpected(row.error());
    const PrunedAudit what{range.int64(0), range.int64(1), range.int64(2)};
    prune_cutoff_ = before;
    if (db_->dialect() == Database::Dialect::postgres) {
      Query cutoff(*db_, "SELECT set_config('onevisit.audit_prune_cutoff', ?, true)");  // for this transaction
      if (auto ok = cutoff.bind(std::to_string(before)).run(); !ok) {
        prune_cutoff_ = 0;
        return std::unexpected(ok.error());
      }
    }
    Query remove(*db_, "DELETE FROM server_audit WHERE at < ?");
    auto removed = remove.bind(before).run();
    prune_cutoff_ = 0;
    if (!removed) return std::unexpected(removed.error());
    AuditRecord record = describe(what);
    assert(record.at >= before);
    auto sequence = append_audit_locked(record);
    if (!sequence) return std::unexpected(sequence.error());
    record.sequence = *sequence;
    return record;
  }();
  if (!pruned) {
    (void)exec(*db_, "ROLLBACK");
    return pruned;
  }
  if (auto committed = exec(*db_, "COMMIT"); !committed) return std::unexpected(committed.error());
  return pruned;
}

std::expected<Timestamp, AccountError> AccountStore::change_login_counters(
    const std::vector<std::string>& keys, Timestamp forget_before, const std::function<Timestamp(std::vector<LoginCounter>&)>& change) {
  std::vector<std::string> hashes;
  for (const auto& key : keys) hashes.push_back(sha256_hex(key));
  std::lock_guard lock(mutex_);
  const bool postgres = db_->dialect() == Database::Dialect::postgres;
  if (auto ok = exec(*db_, begin_write(*db_)); !ok) return std::unexpected(ok.error());
  auto changed = [&]() -> std::expected<Timestamp, AccountError> {
    if (postgres) {
      // One change at a time over every node: two nodes must not both see a free attempt.
      Query locked(*db_, "SELECT pg_advisory_xact_lock(hashtext('onevisit-logins:' || current_schema()))");
      if (auto ok = locked.run(); !ok) return std::unexpected(ok.error());
    }
    Query forget(*db_, "DELETE FROM server_login_counters WHERE last <= ?");
    if (auto ok = forget.bind(forget_before).run(); !ok) return std::unexpected(ok.error());
    std::vector<LoginCounter> counters(hashes.size());
    for (std::size_t i = 0; i < hashes.size(); ++i) {
      Query read(*db_, "SELECT failures, last FROM server_login_counters WHERE key_hash = ?");
      auto row = read.bind(hashes[i]).step();
      if (!row) return std::unexpected(row.error());
      if (*row) counters[i] = LoginCounter{static_cast<int>(read.int64(0)), read.int64(1)};
    }
    const Timestamp result = change(counters);
    for (std::size_t i = 0; i < hashes.size(); ++i) {
      if (counters[i].failures <= 0) {
        Query remove(*db_, "DELETE FROM server_login_counters WHERE key_hash = ?");
        if (auto ok = remove.bind(hashes[i]).run(); !ok) return std::unexpected(ok.error());
        continue;
      }
      Query write(*db_,
                  "INSERT INTO server_login_counters (key_hash, failures, last) VALUES (?,?,?) "
                  "ON CONFLICT(key_hash) DO UPDATE SET failures = excluded.failures, last = excluded.last");
      if (auto ok = write.bind(hashes[i]).bind(std::int64_t{counters[i].failures}).bind(counters[i].last).run(); !ok) {
        return std::unexpected(ok.error());
      }
    }
    return result;
  }();
  if (!changed) {
    (void)exec(*db_, "ROLLBACK");
    return changed;
  }
  if (auto committed = exec(*db_, "COMMIT"); !committed) return std::unexpected(committed.error());
  return changed;
}

std::expected<Timestamp, AccountError> AccountStore::login_address_seen(const std::string& user, const std::string& address) {
  std::lock_guard lock(mutex_);
  Query q(*db_, "SELECT at FROM server_login_addresses WHERE user_hash = ? AND address_hash = ?");
  auto row = q.bind(sha256_hex(user)).bind(sha256_hex(address)).step();
  if (!row) return std::unexpected(row.error());
  return *row ? q.int64(0) : Timestamp{0};
}

std::expected<void, AccountError> AccountStore::remember_login_address(const std::string& user, const std::string& address, Timestamp now,
                                                                       std::size_t keep, Timestamp forget_before) {
  const std::string user_hash = sha256_hex(user);
  std::lock_guard lock(mutex_);
  Query forget(*db_, "DELETE FROM server_login_addresses WHERE at <= ?");
  if (auto ok = forget.bind(forget_before).run(); !ok) return ok;
  Query add(*db_,
            "INSERT INTO server_login_addresses (user_hash, address_hash, at) VALUES (?,?,?) "
            "ON CONFLICT(user_hash, address_hash) DO UPDATE SET at = excluded.at");
  if (auto ok = add.bind(user_hash).bind(sha256_hex(address)).bind(now).run(); !ok) return ok;
  // A user's older addresses beyond the most recent `keep` are forgotten.
  Query trim(*db_,
             "DELETE FROM server_login_addresses WHERE user_hash = ? AND address_hash NOT IN "
             "(SELECT address_hash FROM server_login_addresses WHERE user_hash = ? ORDER BY at DESC LIMIT ?)");
  return trim.bind(user_hash).bind(user_hash).bind(static_cast<std::int64_t>(keep)).run();
}

}  // namespace onevisit::server
