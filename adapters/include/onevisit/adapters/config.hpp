// Deployment configuration: which adapter serves which department system.
//
// The workflow names a system (`department tax ... adapter tax_gateway`); a TOML file read
// with toml++ says what that system is at this site:
//
//   [systems.tax_gateway]
//   kind = "xml-exchange"            # or "log", "http", "sms", "plugin"
//   folder = "/srv/exchange/tax"     # out/, in/, processed/, quarantine/ below it
//
//   [systems.market_registry]
//   kind = "http"
//   url = "http://10.1.2.3:8080/api/onevisit"   # POST <url>/<operation>
//   timeout_ms = 5000
//   token_env = "MARKET_TOKEN"                   # bearer token read from the environment
//
//   [systems.notify]
//   kind = "log"
//
//   [systems.notify]                 # applicant notices by text message
//   kind = "sms"
//   url = "http://10.1.2.9/sms"       # POST <url>/send
//   sign = "某某区政务服务中心"
//   token_env = "SMS_TOKEN"
//
//   [sms]                             # the SMS gateway the applicant channel's login codes go by
//   url = "http://10.1.2.9/sms"       # POST <url>/send (sms.hpp)
//   sign = "某某区政务服务中心"
//   token_env = "SMS_TOKEN"
//
//   [oidc]                            # the province's identity platform (identity.hpp)
//   issuer = "https://id.example.gov.cn"
//   authorize_url = "https://id.example.gov.cn/oidc/authorize"
//   token_url = "http://10.1.2.7/oidc/token"
//   client_id = "onevisit"
//   client_secret_env = "OIDC_CLIENT_SECRET"   # HS256 key, at least 32 bytes
//   redirect_uri = "https://zwfw.example.gov.cn/api/applicant/oidc/callback"
//   name_claim = "name"               # default
//   id_number_claim = "id_number"     # default
//
//   [elicense]                        # the e-license library (电子证照库)
//   url = "http://10.1.2.8/elicense"  # GET <url>/licenses?type=&holder=
//   timeout_ms = 3000
//
//   [results]
//   role = "reviewer"                 # the lifecycle role departments' answers act in
//
//   [dispatch]
//   max_attempts = 8
//   first_backoff_ms = 1000
//   max_backoff_ms = 600000
//   workers = 8                       # calls in flight at once
//   breaker_threshold = 5             # failures in a row that open a department's circuit
//   breaker_cooldown_ms = 30000
//   poll_interval_ms = 60000          # asking a department that answers later (202)
//
//   [storage]                         # personal data encrypted at rest (docs/storage.md)
//   key = "2026-12"                   # the current key: new values are sealed under it
//   [storage.keys]                    # every key still needed to read older values
//   2026-12 = "base64 of 32 bytes"    # `onevisit store new-key` makes one
//   2025-06 = "..."
//
// Secrets never belong in workflow files; adapters that need them read them from the
// environment or a file named here.
#pragma once

#include <onevisit/adapters/adapter.hpp>
#include <onevisit/adapters/elicense.hpp>
#include <onevisit/adapters/identity.hpp>
#include <onevisit/adapters/results.hpp>
#include <onevisit/adapters/sms.hpp>
#include <onevisit/adapters/xml_exchange.hpp>
#include <onevisit/engine/at_rest.hpp>

#include <cstdint>
#include <expected>
#include <string>
#include <vector>

namespace onevisit::adapters {

struct AdapterConfig {
  AdapterRegistry registry;
  DispatchOptions dispatch;
  std::vector<std::string> systems;  ///< configured system names, sorted
  /// The exchange folders of every xml-exchange system: their receipts are read back.
  std::vector<std::pair<std::string, ExchangeFolders>> exchanges;
  ResultMapping results;
  std::shared_ptr<ElicenseLibrary> elicense;  ///< null when no [elicense] is configured
  /// The gateway of [sms] (login codes of the applicant channel); null when none is configured.
  std::shared_ptr<SmsGateway> sms;
  /// The identity platform of [oidc] (real-name login of applicants); null when none.
  std::shared_ptr<OidcProvider> oidc;
  /// The keys of [storage]; null when the file configures none (data is stored in clear).
  std::shared_ptr<const engine::AtRestKeys> storage_keys;
};

/// Parses a configuration text; errors name the line and the key.
std::expected<AdapterConfig, std::string> parse_adapter_config(std::string_view toml, std::string_view source_name = "config");
/// Reads and parses a configuration file.
std::expected<AdapterConfig, std::string> load_adapter_config(const std::string& path);

/// Only the [storage] keys of a configuration text (the commands that open a database read
/// nothing else): null when there are none. Errors name the line and the key id, never the
/// key itself.
std::expected<std::shared_ptr<const engine::AtRestKeys>, std::string> parse_storage_keys(std::string_view toml,
                                                                                        std::string_view source_name = "config");
/// Reads a configuration file's [storage] keys.
std::expected<std::shared_ptr<const engine::AtRestKeys>, std::string> load_storage_keys(const std::string& path);

/// A configuration text as toml++ is given it: ASCII only, with the same meaning. toml++ 3.3
/// runs into undefined behaviour on non-ASCII bytes it does not expect (fuzzing found five
/// ways), so non-ASCII characters inside strings become \u escapes (a literal string becomes the
/// basic string of the same value) and those in comments become blanks.
struct AsciiToml {
  std::string text;         ///< what toml++ parses
  std::string source_name;  ///< the file's name, for messages
  /// For each line of `text`, the original column (in characters) of each of its bytes.
  std::vector<std::vector<std::uint32_t>> original_columns;
  /// "name:line:column" of a place toml++ reported in `text`, as a place in the original.
  std::string where(std::size_t line, std::size_t column) const;
};

/// The ASCII form of a configuration text, or an error with its place ("name:line:column: …")
/// for text that is not valid TOML in a way toml++ 3.3 mishandles: bytes that are not UTF-8,
/// control characters, non-ASCII outside strings and comments, a table header without a name,
/// a backslash before a non-ASCII character in a string.
std::expected<AsciiToml, std::string> ascii_toml(std::string_view text, std::string_view source_name);

}  // namespace onevisit::adapters
