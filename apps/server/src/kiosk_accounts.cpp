// The kiosks' tables of the AccountStore (accounts.hpp): registered devices and the one-time
// nonces their card reads sign.
#include "accounts.hpp"
#include "account_database.hpp"

namespace onevisit::server {

using sql::Query;

namespace {
Kiosk read_kiosk(const Query& q) { return Kiosk{q.text(0), q.text(1), q.text(2), q.text(3), q.int64(4), q.int64(5)}; }
constexpr const char* kKioskColumns = "kiosk, title, public_key, registered_by, registered_at, revoked_at";
}  // namespace

std::expected<Kiosk, AccountError> AccountStore::register_kiosk(const Kiosk& kiosk) {
  std::lock_guard lock(mutex_);
  Query q(*db_, "INSERT INTO server_kiosks (kiosk, title, public_key, registered_by, registered_at) VALUES (?,?,?,?,?)");
  auto ok = q.bind(kiosk.id).bind(kiosk.title).bind(kiosk.public_key).bind(kiosk.registered_by).bind(kiosk.registered_at).run();
  if (!ok) {
    if (ok.error().kind == AccountError::Kind::conflict) {
      return std::unexpected(AccountError{AccountError::Kind::conflict, "自助终端编号“" + kiosk.id + "”已登记过（撤销的编号不再使用）"});
    }
    return std::unexpected(ok.error());
  }
  Kiosk registered = kiosk;
  registered.revoked_at = 0;
  return registered;
}

std::expected<std::vector<Kiosk>, AccountError> AccountStore::kiosks() {
  std::lock_guard lock(mutex_);
  Query q(*db_, std::string("SELECT ") + kKioskColumns + " FROM server_kiosks ORDER BY kiosk");
  return q.collect(read_kiosk);
}

std::expected<std::optional<Kiosk>, AccountError> AccountStore::find_kiosk(const std::string& id) {
  std::lock_guard lock(mutex_);
  Query q(*db_, std::string("SELECT ") + kKioskColumns + " FROM server_kiosks WHERE kiosk = ?");
  auto rows = q.bind(id).collect(read_kiosk);
  if (!rows) return std::unexpected(rows.error());
  if (rows->empty()) return std::nullopt;
  return rows->front();
}

std::expected<void, AccountError> AccountStore::revoke_kiosk(const std::string& id, Timestamp now) {
  std::lock_guard lock(mutex_);
  Query q(*db_, "UPDATE server_kiosks SET revoked_at = ? WHERE kiosk = ? AND revoked_at = 0");
  if (auto ok = q.bind(now).bind(id).run(); !ok) return ok;
  // Nonces handed out before the revocation are no use any more either.
  Query nonces(*db_, "DELETE FROM server_kiosk_nonces WHERE kiosk = ?");
  return nonces.bind(id).run();
}

std::expected<void, AccountError> AccountStore::store_kiosk_nonce(std::string_view nonce, const std::string& kiosk, Timestamp now,
                                                                  Timestamp expires_at) {
  std::lock_guard lock(mutex_);
  Query forget(*db_, "DELETE FROM server_kiosk_nonces WHERE expires_at <= ?");
  if (auto ok = forget.bind(now).run(); !ok) return ok;
  Query q(*db_, "INSERT INTO server_kiosk_nonces (nonce_hash, kiosk, expires_at) VALUES (?,?,?)");
  return q.bind(sha256_hex(nonce)).bind(kiosk).bind(expires_at).run();
}

std::expected<std::optional<std::string>, AccountError> AccountStore::take_kiosk_nonce(std::string_view nonce, Timestamp now) {
  std::lock_guard lock(mutex_);
  // Read and removed in one statement: of two nodes taking one nonce, one gets it.
  Query q(*db_, "DELETE FROM server_kiosk_nonces WHERE nonce_hash = ? RETURNING kiosk, expires_at");
  auto row = q.bind(sha256_hex(nonce)).step();
  if (!row) return std::unexpected(row.error());
  if (!*row) return std::nullopt;
  if (q.int64(1) <= now) return std::nullopt;
  return q.text(0);
}

}  // namespace onevisit::server
