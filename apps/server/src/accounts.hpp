// Private to the server: users, sessions, API tokens and the audit trail, kept in tables of
// their own in the case database — the SQLite file, or the PostgreSQL database that several
// nodes share (account_database.hpp) — beside the engine's (whose schema is untouched;
// docs/api.md lists the tables and their versioned migrations).
//
// Secrets are never stored: passwords as argon2id strings (libsodium crypto_pwhash_str),
// session and API tokens as SHA-256 digests of the random value the client holds. The audit
// table is append-only: triggers refuse UPDATE, and DELETE of everything but what
// prune_audit removes (records past their retention, by this connection only).
//
// Thread safety: every member function may be called from any thread (one connection,
// guarded by a mutex; the statements are short). Several processes may share the tables:
// what one writes, the others read at their next statement.
#pragma once

#include <onevisit/engine/at_rest.hpp>
#include <onevisit/engine/store.hpp>

#include <cstdint>
#include <expected>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace onevisit::server {

namespace sql {
class Database;
}

using engine::Timestamp;

/// What a user of the service is. Reviewers belong to a department. A department_system is
/// not a person: it is a department's own IT system, bound to one department, that posts the
/// department's answers (receipts); it acts only through API tokens an admin creates for it.
enum class Role { window_clerk, reviewer, supervisor, designer, admin, department_system };
inline constexpr Role kAllRoles[] = {Role::window_clerk, Role::reviewer, Role::supervisor, Role::designer, Role::admin,
                                     Role::department_system};

/// Roles whose accounts belong to one department (and see only its part of a case).
inline bool bound_to_department(Role role) { return role == Role::reviewer || role == Role::department_system; }

std::string_view to_string(Role role);
std::optional<Role> parse_role(std::string_view text);
/// The role the engine's lifecycles name (`by clerk`, `by reviewer`): window_clerk -> clerk,
/// reviewer -> reviewer, supervisor -> supervisor; empty for roles that run no case commands.
std::string_view engine_role(Role role);

struct User {
  std::string name;
  std::string display_name;
  Role role = Role::window_clerk;
  std::string department;  ///< reviewers, department systems: the department whose items they handle
  bool disabled = false;
  Timestamp created_at = 0;
};

struct AccountError {
  /// unavailable: the database could not be reached (a failover, a restart); a retry may pass.
  enum class Kind { io, not_found, conflict, invalid, unavailable };
  Kind kind = Kind::io;
  std::string message;
};

struct NewSession {
  std::string token;       ///< for the HttpOnly cookie; only its digest is stored
  std::string csrf_token;  ///< for the readable cookie and the X-CSRF-Token header
  Timestamp expires_at = 0;
};

struct SessionInfo {
  User user;
  std::string csrf_token;
  Timestamp expires_at = 0;
};

/// What a token may do: `read` allows GET only; `write` everything its user's role allows.
struct ApiToken {
  std::int64_t id = 0;
  std::string user;
  std::string name;
  std::string scope;
  Timestamp created_at = 0;
  Timestamp revoked_at = 0;  ///< 0 while valid
};

struct AuditRecord {
  std::int64_t sequence = 0;
  Timestamp at = 0;
  std::string actor;           ///< user name, or "-" when unknown
  std::string role;
  std::string remote_address;
  std::string action;          ///< e.g. "POST /api/cases/C1/items/seal/events/approve"
  std::string target;          ///< the case id, user name ... it concerns
  std::string outcome;         ///< "ok", or the error code (forbidden, conflict, ...)
  std::string detail;          ///< message; never a full ID or phone number
  std::int64_t count = 1;      ///< refusals counted into this record (refusal_log.hpp); 1 otherwise
  Timestamp last_at = 0;       ///< when the last of them came; 0: `at`
  std::string last_action;     ///< the last one's action; empty: `action`
};

/// What prune_audit removed: `count` records from `first_at` to `last_at` (0 when none).
struct PrunedAudit {
  std::int64_t count = 0;
  Timestamp first_at = 0;
  Timestamp last_at = 0;
};

/// An applicant's session (issue 15): who they proved to be, as ApplicantIdentity's JSON.
struct ApplicantSessionInfo {
  std::string identity_json;
  std::string csrf_token;
  Timestamp expires_at = 0;
};

/// An applicant's draft application, saved on the server (resumable on another device).
struct ApplicantDraft {
  std::string id;       ///< chosen by the page (safe token)
  std::string bundle;
  int version = 0;      ///< the bundle version it was filled for
  std::string content;  ///< JSON: {"answers": {…}, "form": {…}}
  Timestamp updated_at = 0;
  std::string case_id;  ///< the case it became; empty while a draft
};

/// What checking a one-time SMS code found.
enum class CodeCheck {
  accepted,  ///< right and in time: the code is used up
  wrong,     ///< wrong: one attempt fewer (the last wrong one uses the code up)
  expired,   ///< none sent, expired, or used up
};

/// An OpenID Connect login begun (its `state`): the nonce its ID token must carry and the
/// page to return to.
struct OidcLogin {
  std::string nonce;
  std::string return_to;
};

/// A registered self-service kiosk (7×24 自助终端, docs/applicant.md "The kiosk"): its card
/// reader signs each card read with the device's Ed25519 key; only the public half is kept.
struct Kiosk {
  std::string id;          ///< chosen by the administrator: 1 to 64 of A-Z a-z 0-9 - _ .
  std::string title;       ///< where it stands, as people read it (西湖区政务服务中心一楼大厅)
  std::string public_key;  ///< Ed25519 public key, 64 hex digits
  std::string registered_by;
  Timestamp registered_at = 0;
  Timestamp revoked_at = 0;  ///< 0 while in service
};

struct PasswordCost {
  unsigned long long ops;
  std::size_t memory;
  static PasswordCost interactive();
  static PasswordCost minimal();  ///< for tests only
};

class AccountStore {
 public:
  /// Opens the tables in the case database `database` — an SQLite file (which the engine has
  /// opened before), or a PostgreSQL URL (engine::is_postgres_url) — and migrates them forward.
  /// With `keys` (the configuration's [storage.keys], as the engine's store has them), what an
  /// applicant's draft holds and what an applicant's session proves (names, ID and mobile
  /// numbers) are sealed at rest, bound to their row; values written before keys were given
  /// still open (docs/storage.md, Encryption at rest).
  static std::expected<std::unique_ptr<AccountStore>, AccountError> open(const std::string& database, PasswordCost cost,
                                                                        std::shared_ptr<const engine::AtRestKeys> keys = nullptr);
  ~AccountStore();
  AccountStore(const AccountStore&) = delete;
  AccountStore& operator=(const AccountStore&) = delete;

  /// The schema version after migrations.
  int schema_version() const { return schema_version_; }

  std::expected<std::size_t, AccountError> user_count();
  /// REQUIRES: a valid name ([a-z0-9_.-]{1,64}) and a password of 8 characters or more.
  std::expected<User, AccountError> create_user(User user, std::string_view password, Timestamp now);
  struct UserChange {
    std::optional<std::string> display_name;
    std::optional<Role> role;
    std::optional<std::string> department;
    std::optional<std::string> password;
    std::optional<bool> disabled;
  };
  std::expected<User, AccountError> update_user(const std::string& name, const UserChange& change);
  std::expected<std::vector<User>, AccountError> users();
  std::expected<std::optional<User>, AccountError> find_user(const std::string& name);
  /// The user when the password is right and the user not disabled; nullopt otherwise.
  /// Takes as long for an unknown or disabled user as for a wrong password (it checks the
  /// password against a dummy argon2id hash of the same cost): the answer's time does not
  /// tell which user names exist.
  std::expected<std::optional<User>, AccountError> authenticate(const std::string& name, std::string_view password);

  std::expected<NewSession, AccountError> create_session(const std::string& user, Timestamp now, Timestamp lifetime);
  /// The session's user when the token is known, unexpired and its user enabled.
  std::expected<std::optional<SessionInfo>, AccountError> find_session(std::string_view token, Timestamp now);
  std::expected<void, AccountError> delete_session(std::string_view token);

  /// Returns the token and its secret ("ovt_<random>"), shown once.
  std::expected<std::pair<ApiToken, std::string>, AccountError> create_token(const std::string& user, const std::string& name,
                                                                            const std::string& scope, Timestamp now);
  /// The token's user when the secret is known, not revoked and its user enabled.
  std::expected<std::optional<std::pair<User, ApiToken>>, AccountError> find_token(std::string_view secret);
  std::expected<std::vector<ApiToken>, AccountError> tokens(const std::optional<std::string>& user);
  std::expected<std::optional<ApiToken>, AccountError> token(std::int64_t id);
  std::expected<void, AccountError> revoke_token(std::int64_t id, Timestamp now);

  // The applicant channel (docs/applicant.md): one-time SMS codes, sessions, OIDC logins.
  // Codes are kept as keyed BLAKE2b digests (a random key per code) under the SHA-256 of the
  // number; session tokens and OIDC states as SHA-256 digests.

  /// Replaces the number's code with `code`, valid until `expires_at`, for `attempts` tries.
  std::expected<void, AccountError> store_login_code(const std::string& phone, std::string_view code, Timestamp expires_at,
                                                     int attempts);
  /// Checks a code the applicant typed; a wrong code costs one attempt.
  std::expected<CodeCheck, AccountError> check_login_code(const std::string& phone, std::string_view code, Timestamp now);
  std::expected<NewSession, AccountError> create_applicant_session(const std::string& identity_json, Timestamp now, Timestamp lifetime);
  /// The session when the token is known and unexpired.
  std::expected<std::optional<ApplicantSessionInfo>, AccountError> find_applicant_session(std::string_view token, Timestamp now);
  /// Records what the session now proves (a company chosen).
  std::expected<void, AccountError> update_applicant_session(std::string_view token, const std::string& identity_json);
  std::expected<void, AccountError> delete_applicant_session(std::string_view token);
  std::expected<void, AccountError> store_oidc_login(std::string_view state, const OidcLogin& login, Timestamp expires_at);
  /// The login begun with `state`, removed as it is read (a state is used once); nullopt
  /// when unknown, used or expired.
  std::expected<std::optional<OidcLogin>, AccountError> take_oidc_login(std::string_view state, Timestamp now);

  // How often one-time codes are asked for and tried (code_throttle.hpp): events kept for
  // kCodeEventWindow, by the SHA-256 of the number or the address, shared by every node.
  using CodeEventTimes = std::vector<Timestamp>;  ///< the window's events, oldest first
  static constexpr Timestamp kCodeEventWindow = 3600'000;
  /// In one write transaction, one at a time across every node: reads the window's sends to
  /// `phone` and from `address`, asks `wait` how long this send must wait, and records the send
  /// when it need not (0). Returns the wait.
  std::expected<Timestamp, AccountError> reserve_code_send(
      const std::string& phone, const std::string& address, Timestamp now,
      const std::function<Timestamp(const CodeEventTimes& by_number, const CodeEventTimes& by_address)>& wait);
  /// The same for the nonces handed to a kiosk (kinds nonce_kiosk, nonce_address) within
  /// `window` (at most kCodeEventWindow): reads those to `kiosk` and from `address`, asks
  /// `wait`, records the nonce when it need not wait. Returns the wait.
  std::expected<Timestamp, AccountError> reserve_kiosk_nonce(
      const std::string& kiosk, const std::string& address, Timestamp window, Timestamp now,
      const std::function<Timestamp(const CodeEventTimes& by_kiosk, const CodeEventTimes& by_address)>& wait);
  /// The window's wrong codes typed from `address`.
  std::expected<CodeEventTimes, AccountError> code_failures(const std::string& address, Timestamp now);
  std::expected<void, AccountError> record_code_failure(const std::string& address, Timestamp now);

  // The staff login throttle's counters (login_throttle.hpp), by the SHA-256 of their keys,
  // shared by every node.
  struct LoginCounter {
    int failures = 0;  ///< including reserved attempts
    Timestamp last = 0;
  };
  /// In one write transaction, one at a time across every node: removes the counters whose
  /// last attempt is at or before `forget_before`, reads the counters named `keys` (an absent
  /// one reads as zero), lets `change` edit them, and writes them back (a counter left with no
  /// failures is removed). Returns what `change` returned.
  std::expected<Timestamp, AccountError> change_login_counters(const std::vector<std::string>& keys, Timestamp forget_before,
                                                               const std::function<Timestamp(std::vector<LoginCounter>&)>& change);
  /// When `user` last logged in from `address`; 0 when never (or forgotten).
  std::expected<Timestamp, AccountError> login_address_seen(const std::string& user, const std::string& address);
  /// Records a login of `user` from `address` at `now`; the user's addresses beyond the `keep`
  /// most recent, and any seen at or before `forget_before`, are forgotten.
  std::expected<void, AccountError> remember_login_address(const std::string& user, const std::string& address, Timestamp now,
                                                           std::size_t keep, Timestamp forget_before);

  /// Drafts belong to an owner key (ApplicantIdentity::owner_keys), stored hashed.
  std::expected<void, AccountError> save_draft(const std::string& owner, const ApplicantDraft& draft);
  /// The drafts of any of `owners`, newest first.
  std::expected<std::vector<ApplicantDraft>, AccountError> drafts(const std::vector<std::string>& owners);
  std::expected<std::optional<ApplicantDraft>, AccountError> draft(const std::vector<std::string>& owners, const std::string& id);
  std::expected<void, AccountError> delete_draft(const std::vector<std::string>& owners, const std::string& id);
  /// Records the case a draft became (it is kept: a second submission finds it).
  std::expected<void, AccountError> mark_draft_submitted(const std::vector<std::string>& owners, const std::string& id,
                                                         const std::string& case_id);

  // Self-service kiosks (docs/applicant.md, "The kiosk").

  /// REQUIRES: a safe id, a title and a well-formed key (the route checks them). A kiosk id
  /// registered before (revoked or not) is a conflict: a revoked device never comes back.
  std::expected<Kiosk, AccountError> register_kiosk(const Kiosk& kiosk);
  std::expected<std::vector<Kiosk>, AccountError> kiosks();
  std::expected<std::optional<Kiosk>, AccountError> find_kiosk(const std::string& id);
  /// Takes the kiosk out of service: its signed reads open no session from now on.
  std::expected<void, AccountError> revoke_kiosk(const std::string& id, Timestamp now);
  /// A nonce for one card read at `kiosk`, valid until `expires_at` (kept as its SHA-256);
  /// expired nonces are removed on the way.
  std::expected<void, AccountError> store_kiosk_nonce(std::string_view nonce, const std::string& kiosk, Timestamp now,
                                                      Timestamp expires_at);
  /// The kiosk a nonce was given to, removed as it is read (used once); nullopt when unknown,
  /// used or expired.
  std::expected<std::optional<std::string>, AccountError> take_kiosk_nonce(std::string_view nonce, Timestamp now);

  std::expected<void, AccountError> append_audit(const AuditRecord& record);
  /// Newest first.
  std::expected<std::vector<AuditRecord>, AccountError> audit(std::size_t limit, std::size_t offset,
                                                              const std::optional<std::string>& target);
  /// Removes the audit records from before `before` and appends the record of the pruning,
  /// `describe(what was removed)`, in one transaction; returns that record with its
  /// sequence. The caller checks the retention. The record of the pruning is younger than
  /// `before` (REQUIRES: its `at` >= before), so no pruning removes its own record. The
  /// triggers refuse every other DELETE.
  std::expected<AuditRecord, AccountError> prune_audit(Timestamp before,
                                                       const std::function<AuditRecord(const PrunedAudit&)>& describe);

 private:
  explicit AccountStore(PasswordCost cost);
  std::expected<void, AccountError> migrate();
  std::expected<void, AccountError> hash_password(std::string_view password, std::string& hash) const;
  /// Returns the record's sequence.
  std::expected<std::int64_t, AccountError> append_audit_locked(const AuditRecord& record);
  std::expected<std::optional<User>, AccountError> find_user_locked(const std::string& name);
  /// What an event is counted under: its kind and its key (kept as its SHA-256).
  struct CountedKey {
    const char* kind;
    const std::string& key;
  };
  /// reserve_code_send and reserve_kiosk_nonce: one write transaction, one at a time across nodes.
  std::expected<Timestamp, AccountError> reserve_events(
      const CountedKey& first, const CountedKey& second, Timestamp window, Timestamp now,
      const std::function<Timestamp(const CodeEventTimes& by_first, const CodeEventTimes& by_second)>& wait);

  /// `clear` sealed for `place` when there are keys, else as it is.
  std::string sealed(std::string_view clear, std::string_view place) const;
  /// The clear text of a stored value (sealed or not).
  std::expected<std::string, AccountError> opened(std::string_view stored, std::string_view place) const;

  std::mutex mutex_;
  std::unique_ptr<sql::Database> db_;
  std::shared_ptr<const engine::AtRestKeys> keys_;  ///< null: personal values stored clear
  PasswordCost cost_;
  std::string dummy_hash_;  ///< of a random password, for unknown and disabled users
  /// Records older than this may be deleted (SQLite: the delete trigger asks, through an SQL
  /// function of this connection); 0 outside prune_audit. Guarded by mutex_.
  Timestamp prune_cutoff_ = 0;
  int schema_version_ = 0;
};

/// A random token of `bytes` bytes, hex encoded (libsodium's CSPRNG).
std::string random_hex(std::size_t bytes);
/// SHA-256 of `text`, hex encoded.
std::string sha256_hex(std::string_view text);

}  // namespace onevisit::server
