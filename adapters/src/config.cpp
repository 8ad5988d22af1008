#include <onevisit/adapters/config.hpp>

#include <onevisit/adapters/http_adapter.hpp>
#include <onevisit/adapters/plugin.hpp>
#include <onevisit/adapters/xml_exchange.hpp>
#include <onevisit/dsl/source.hpp>

#define TOML_EXCEPTIONS 0
// toml++'s asserts check its own invariants and are off in release builds (NDEBUG; with GCC
// its "assume" is a no-op as well). Off here too, so the fuzz build, which keeps asserts on,
// tests toml++ as it ships.
#define TOML_ASSERT(expr) static_cast<void>(0)
#include <toml++/toml.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>

namespace onevisit::adapters {

namespace {

// The place of a node or an error in the original text (toml++ reads the ASCII form).
std::string where(const toml::source_region& region, const AsciiToml& source) {
  return source.where(region.begin.line, region.begin.column);
}

// timeout_ms and the bearer token of an HTTP service. The secret comes from the environment,
// named by token_env; never from the file itself.
std::expected<std::pair<std::chrono::milliseconds, std::string>, std::string> http_settings(const toml::table& table,
                                                                                            const toml::source_region& region,
                                                                                            const AsciiToml& source) {
  const auto timeout = table["timeout_ms"].value_or<std::int64_t>(5000);
  if (timeout <= 0) return std::unexpected(where(region, source) + ": timeout_ms must be positive");
  std::string token;
  if (const auto variable = table["token_env"].value<std::string>()) {
    const char* value = std::getenv(variable->c_str());
    if (!value || !*value) return std::unexpected(where(region, source) + ": the environment variable " + *variable + " (token_env) is not set");
    token = value;
  }
  return std::pair{std::chrono::milliseconds(timeout), std::move(token)};
}

std::expected<std::shared_ptr<const engine::AtRestKeys>, std::string> storage_keys(const toml::table& root,
                                                                                  const AsciiToml& source) {
  const auto* storage = root["storage"].as_table();
  if (!storage) return nullptr;
  for (const auto& [key, value] : *storage) {
    if (key != "key" && key != "keys") {
      return std::unexpected(where(value.source(), source) + ": unknown setting storage." + std::string(key.str()) +
                             " (key, keys)");
    }
  }
  const auto* table = (*storage)["keys"].as_table();
  if (!table || table->empty()) {
    return std::unexpected(where(storage->source(), source) + ": [storage] needs [storage.keys] with id = \"base64 key\"");
  }
  std::map<std::string, std::string> keys;
  for (const auto& [id, value] : *table) {
    const auto text = value.value<std::string>();
    if (!text) return std::unexpected(where(value.source(), source) + ": storage.keys." + std::string(id.str()) + " must be a string");
    keys.emplace(std::string(id.str()), *text);
  }
  const auto current = (*storage)["key"].value<std::string>();
  if (!current) return std::unexpected(where(storage->source(), source) + ": [storage] needs key = \"<id>\": the current key");
  auto parsed = engine::AtRestKeys::from_base64(*current, keys);
  if (!parsed) return std::unexpected(where(storage->source(), source) + ": storage: " + parsed.error());
  return std::make_shared<const engine::AtRestKeys>(std::move(*parsed));
}

std::expected<std::string, std::string> read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::unexpected("cannot read '" + path + "'");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// Appends the TOML escape of one code point (\uXXXX, or \UXXXXXXXX beyond the BMP).
void append_escape(std::string& out, char32_t code_point) {
  char escape[12];
  if (code_point <= 0xFFFF) {
    std::snprintf(escape, sizeof escape, "\\u%04X", static_cast<unsigned>(code_point));
  } else {
    std::snprintf(escape, sizeof escape, "\\U%08X", static_cast<unsigned>(code_point));
  }
  out += escape;
}

// The code point of a valid UTF-8 sequence of `length` bytes.
char32_t decode_utf8(std::string_view bytes, std::size_t length) {
  const auto b = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(bytes[k])); };
  switch (length) {
    case 2: return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
    case 3: return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
    default: return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
  }
}

std::size_t utf8_length(unsigned char lead) { return lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4; }

}  // namespace

std::string AsciiToml::where(std::size_t line, std::size_t column) const {
  if (line >= 1 && line <= original_columns.size()) {
    const auto& columns = original_columns[line - 1];
    if (column >= 1 && column <= columns.size()) {
      column = columns[column - 1];
    } else if (column > columns.size()) {
      column = (columns.empty() ? 0 : columns.back()) + 1;
    }
  }
  return source_name + ":" + std::to_string(line) + ":" + std::to_string(column);
}

// toml++ 3.3 reaches __builtin_unreachable() (an assertion with asserts on) whenever it meets a
// byte over 0x7F where its own reading does not expect one, as fuzzing found again and again:
// non-ASCII characters after a quote it reads as part of a bad value, after a header without a
// name, or after control characters inside arrays. Guessing where toml++ thinks a string starts
// failed three times, so toml++ is given ASCII only: non-ASCII inside strings becomes \u escapes
// (a literal string becomes the basic string of the same value), non-ASCII in comments becomes
// a blank, and non-ASCII anywhere else, as well as the other text toml++ mishandles, is refused
// here with its place. Whatever toml++ then reads, it never meets a byte over 0x7F.
std::expected<AsciiToml, std::string> ascii_toml(std::string_view text, std::string_view source_name) {
  enum class In { code, comment, basic, literal, multiline_basic, multiline_literal };
  constexpr std::string_view kThreeQuotes = "\"\"\"";
  constexpr std::string_view kThreeApostrophes = "'''";
  AsciiToml result;
  result.source_name = std::string(source_name);
  result.text.reserve(text.size() + text.size() / 4);
  result.original_columns.emplace_back();
  In in = In::code;
  std::size_t line = 1;
  std::size_t column = 1;
  bool escaped = false;
  bool line_start = true;       // only spaces and tabs so far on this line
  char last = '\n';             // the last character outside strings and comments, not a blank
  // A string, array or inline table starts only where a key or a value can: toml++ reads a
  // quote in the middle of a word (1B'x) as part of a bad value, not as a string.
  // A dot starts a quoted part only in a key (a.'b' = 1): in a value (9.'x) it is part of a bad
  // number, and toml++ reads on into the quote.
  bool in_value = false;        // after the '=' of a top-level key, until the line (or array) ends
  std::size_t value_depth = 0;  // open [ and { of array and inline-table values
  auto can_start = [&] {
    return last == '\n' || last == '=' || last == '[' || last == '{' || last == ',' || (last == '.' && !in_value && value_depth == 0);
  };
  auto error = [&](std::string_view what) {
    return std::unexpected(std::string(source_name) + ":" + std::to_string(line) + ":" + std::to_string(column) + ": " + std::string(what));
  };
  // Every byte given to toml++ remembers the column of the original character it stands for.
  auto emit = [&](std::string_view bytes) {
    for (const char b : bytes) {
      result.text += b;
      result.original_columns.back().push_back(static_cast<std::uint32_t>(column));
      if (b == '\n') result.original_columns.emplace_back();
    }
  };
  if (const auto bad = dsl::find_invalid_utf8(text); bad != std::string_view::npos) {
    const auto before = text.substr(0, bad);
    const auto line_begin = before.rfind('\n');
    line = static_cast<std::size_t>(std::count(before.begin(), before.end(), '\n')) + 1;
    column = dsl::count_code_points(before.substr(line_begin == std::string_view::npos ? 0 : line_begin + 1)) + 1;
    return error("bytes that are not UTF-8; save the file as UTF-8");
  }
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const std::string_view rest = text.substr(i);
    const auto byte = static_cast<unsigned char>(c);
    std::size_t skip = byte >= 0x80 ? utf8_length(byte) - 1 : 0;  // further bytes taken with this one
    // TOML allows no control character but tab and the line ends anywhere, strings and comments
    // included; toml++ 3.3 loses its way on some of them inside arrays.
    if ((byte < 0x20 && c != '\t' && c != '\n' && !(c == '\r' && rest.starts_with("\r\n"))) || byte == 0x7F) {
      char code[8];
      std::snprintf(code, sizeof code, "U+%04X", static_cast<unsigned>(byte));
      return error(std::string("a control character (") + code + ") that TOML does not allow anywhere; remove it");
    }
    std::string escape;  // what a non-ASCII character inside a string becomes
    if (byte >= 0x80) append_escape(escape, decode_utf8(rest, skip + 1));
    const std::string_view one(&text[i], 1);
    switch (in) {
      case In::code: {
        const bool at_start = can_start();
        if (byte >= 0x80) {
          return error("a character outside quotes that TOML does not allow (outside strings and comments TOML is ASCII)");
        }
        if (c == '[' && line_start && value_depth == 0) {
          std::size_t j = i + 1;
          if (j < text.size() && text[j] == '[') ++j;
          while (j < text.size() && (text[j] == ' ' || text[j] == '\t')) ++j;
          const bool named = j == text.size() || std::isalnum(static_cast<unsigned char>(text[j])) || text[j] == '_' || text[j] == '-' ||
                             text[j] == '"' || text[j] == '\'' || text[j] == ']' ||
                             static_cast<unsigned char>(text[j]) >= 0x80;  // reported as such next
          if (!named) return error("a table header needs a name: [name] or [[name]]");
        } else if ((c == '[' || c == '{') && at_start) {
          ++value_depth;
        } else if ((c == ']' || c == '}') && value_depth > 0) {
          --value_depth;
        }
        if (c == '=' && value_depth == 0) in_value = true;
        if (c == '\n' && value_depth == 0) in_value = false;
        if (c == '#') {
          in = In::comment;
          emit(one);
        } else if (!at_start) {
          emit(one);  // part of a word
        } else if (rest.starts_with(kThreeQuotes)) {
          in = In::multiline_basic;
          skip = 2;
          emit(kThreeQuotes);
        } else if (rest.starts_with(kThreeApostrophes)) {
          in = In::multiline_literal;
          skip = 2;
          emit(kThreeQuotes);
        } else if (c == '"' || c == '\'') {
          in = c == '"' ? In::basic : In::literal;
          emit("\"");
        } else {
          emit(one);
        }
        // A bracket inside a word is part of it: what follows does not start anything.
        if (c != ' ' && c != '\t' && c != '\r' && c != '#') last = (c == '[' || c == '{') && !at_start ? 'x' : c;
        break;
      }
      case In::comment:
        if (c == '\n') {
          in = In::code;
          last = '\n';
          if (value_depth == 0) in_value = false;
        }
        emit(byte >= 0x80 ? std::string_view(" ") : one);
        break;
      case In::basic:
      case In::multiline_basic:
        if (byte >= 0x80) {
          if (escaped) return error("a backslash before a character that is no TOML escape (\\n, \\t, \\\", \\\\, \\uXXXX ...)");
          emit(escape);
        } else if (escaped) {
          escaped = false;
          emit(one);
        } else if (c == '\\') {
          escaped = true;
          emit(one);
        } else if (in == In::basic && (c == '"' || c == '\n')) {
          in = In::code;
          emit(one);
        } else if (in == In::multiline_basic && rest.starts_with(kThreeQuotes)) {
          in = In::code;
          skip = 2;
          // Up to two quotes right before the closing three belong to the string.
          while (skip < 4 && i + skip + 1 < text.size() && text[i + skip + 1] == '"') ++skip;
          emit(rest.substr(0, skip + 1));
        } else {
          emit(one);
        }
        break;
      case In::literal:
      case In::multiline_literal:
        // The same value as a basic string: escape what a basic string reads as syntax.
        if (byte >= 0x80) {
          emit(escape);
        } else if (in == In::literal && (c == '\'' || c == '\n')) {
          in = In::code;
          emit(c == '\'' ? std::string_view("\"") : one);
        } else if (in == In::multiline_literal && rest.starts_with(kThreeApostrophes)) {
          in = In::code;
          skip = 2;
          // Up to two apostrophes right before the closing three belong to the string.
          while (skip < 4 && i + skip + 1 < text.size() && text[i + skip + 1] == '\'') ++skip;
          emit(std::string(skip - 2, '\''));
          emit(kThreeQuotes);
        } else if (c == '\\') {
          emit("\\\\");
        } else if (c == '"') {
          emit("\\\"");
        } else {
          emit(one);
        }
        break;
    }
    for (std::size_t k = 0; k <= skip && i + k < text.size(); ++k) {
      const char b = text[i + k];
      if (b == '\n') {
        ++line;
        column = 1;
        line_start = true;
      } else {
        if ((static_cast<unsigned char>(b) & 0xC0) != 0x80) ++column;
        if (b != ' ' && b != '\t' && b != '\r') line_start = false;
      }
    }
    i += skip;
  }
  return result;
}

namespace {

}  // namespace

std::expected<std::shared_ptr<const engine::AtRestKeys>, std::string> parse_storage_keys(std::string_view text,
                                                                                        std::string_view source_name) {
  auto ascii = ascii_toml(text, source_name);
  if (!ascii) return std::unexpected(ascii.error());
  const AsciiToml& source = *ascii;
  auto parsed = toml::parse(source.text, source_name);
  if (!parsed) {
    const auto& e = parsed.error();
    return std::unexpected(where(e.source(), source) + ": " + std::string(e.description()));
  }
  return storage_keys(parsed.table(), source);
}

std::expected<std::shared_ptr<const engine::AtRestKeys>, std::string> load_storage_keys(const std::string& path) {
  auto text = read_text(path);
  if (!text) return std::unexpected(text.error());
  return parse_storage_keys(*text, path);
}

std::expected<AdapterConfig, std::string> parse_adapter_config(std::string_view text, std::string_view source_name) {
  auto ascii = ascii_toml(text, source_name);
  if (!ascii) return std::unexpected(ascii.error());
  const AsciiToml& source = *ascii;
  auto parsed = toml::parse(source.text, source_name);
  if (!parsed) {
    const auto& e = parsed.error();
    return std::unexpected(where(e.source(), source) + ": " + std::string(e.description()));
  }
  const toml::table& root = parsed.table();
  AdapterConfig config;
  if (const auto* dispatch = root["dispatch"].as_table()) {
    for (const auto& [key, value] : *dispatch) {
      const auto number = value.value<std::int64_t>();
      if (!number || *number <= 0) {
        return std::unexpected(where(value.source(), source) + ": dispatch." + std::string(key.str()) + " must be a positive whole number");
      }
      if (key == "max_attempts") {
        config.dispatch.max_attempts = static_cast<int>(*number);
      } else if (key == "first_backoff_ms") {
        config.dispatch.first_backoff = std::chrono::milliseconds(*number);
      } else if (key == "max_backoff_ms") {
        config.dispatch.max_backoff = std::chrono::milliseconds(*number);
      } else if (key == "workers" && *number <= 256) {
        config.dispatch.workers = static_cast<std::size_t>(*number);
      } else if (key == "breaker_threshold") {
        config.dispatch.breaker_threshold = static_cast<int>(*number);
      } else if (key == "breaker_cooldown_ms") {
        config.dispatch.breaker_cooldown = std::chrono::milliseconds(*number);
      } else if (key == "poll_interval_ms") {
        config.dispatch.poll_interval = std::chrono::milliseconds(*number);
      } else if (key == "batch") {
        config.dispatch.batch = static_cast<std::size_t>(*number);
      } else if (key == "lease_ms") {
        config.dispatch.lease = std::chrono::milliseconds(*number);
      } else {
        return std::unexpected(where(value.source(), source) + ": unknown or out-of-range setting dispatch." + std::string(key.str()) +
                               " (max_attempts, first_backoff_ms, max_backoff_ms, workers <= 256, breaker_threshold, breaker_cooldown_ms, poll_interval_ms, batch, lease_ms)");
      }
    }
  }
  auto keys = storage_keys(root, source);
  if (!keys) return std::unexpected(keys.error());
  config.storage_keys = std::move(*keys);
  const auto* systems = root["systems"].as_table();
  if (!systems) return std::unexpected(std::string(source_name) + ": no [systems.NAME] table configures any adapter");
  for (const auto& [name, node] : *systems) {
    const auto* system = node.as_table();
    if (!system) return std::unexpected(where(node.source(), source) + ": systems." + std::string(name.str()) + " must be a table");
    const auto kind = (*system)["kind"].value<std::string>();
    if (!kind) return std::unexpected(where(node.source(), source) + ": systems." + std::string(name.str()) + " needs kind = \"...\"");
    if (*kind == "log") {
      config.registry.add(std::string(name.str()), std::make_shared<LogAdapter>());
    } else if (*kind == "xml-exchange") {
      const auto folder = (*system)["folder"].value<std::string>();
      if (!folder || folder->empty()) {
        return std::unexpected(where(node.source(), source) + ": systems." + std::string(name.str()) + " (xml-exchange) needs folder = \"...\"");
      }
      config.registry.add(std::string(name.str()), std::make_shared<XmlExchangeAdapter>(ExchangeFolders::under(*folder)));
      config.exchanges.emplace_back(std::string(name.str()), ExchangeFolders::under(*folder));
    } else if (*kind == "http" || *kind == "sms") {
      const auto url = (*system)["url"].value<std::string>();
      if (!url) {
        return std::unexpected(where(node.source(), source) + ": systems." + std::string(name.str()) + " (" + *kind +
                               ") needs url = \"http://...\"");
      }
      auto endpoint = HttpEndpoint::parse(*url);
      if (!endpoint) return std::unexpected(where(node.source(), source) + ": " + endpoint.error());
      auto settings = http_settings(*system, node.source(), source);
      if (!settings) return std::unexpected(settings.error());
      if (*kind == "http") {
        config.registry.add(std::string(name.str()), std::make_shared<HttpAdapter>(std::move(*endpoint), settings->first, settings->second));
      } else {
        config.registry.add(std::string(name.str()), std::make_shared<SmsAdapter>(std::move(*endpoint), settings->first, settings->second,
                                                                                  (*system)["sign"].value_or<std::string>("")));
      }
    } else if (*kind == "plugin") {
      const auto path = (*system)["path"].value<std::string>();
      if (!path) return std::unexpected(where(node.source(), source) + ": systems." + std::string(name.str()) + " (plugin) needs path = \"...so\"");
      // The plugin's own settings travel as JSON: [systems.NAME.settings].
      std::ostringstream settings;
      if (const auto* table = (*system)["settings"].as_table()) {
        settings << toml::json_formatter{*table};
      } else {
        settings << "{}";
      }
      auto plugin = load_plugin_adapter(*path, settings.str());
      if (!plugin) return std::unexpected(where(node.source(), source) + ": " + plugin.error());
      config.registry.add(std::string(name.str()), std::move(*plugin));
    } else {
      return std::unexpected(where(node.source(), source) + ": systems." + std::string(name.str()) + " has unknown kind '" + *kind +
                             "' (this build has: log, xml-exchange, http, sms, plugin)");
    }
    config.systems.emplace_back(name.str());
  }
  std::sort(config.systems.begin(), config.systems.end());
  if (const auto* library = root["elicense"].as_table()) {
    const auto url = (*library)["url"].value<std::string>();
    if (!url) return std::unexpected(where(library->source(), source) + ": [elicense] needs url = \"http://...\"");
    auto endpoint = HttpEndpoint::parse(*url);
    if (!endpoint) return std::unexpected(where(library->source(), source) + ": " + endpoint.error());
    auto settings = http_settings(*library, library->source(), source);
    if (!settings) return std::unexpected(settings.error());
    config.elicense = std::make_shared<HttpElicenseLibrary>(std::move(*endpoint), settings->first, settings->second);
  }
  if (const auto* gateway = root["sms"].as_table()) {
    const auto url = (*gateway)["url"].value<std::string>();
    if (!url) return std::unexpected(where(gateway->source(), source) + ": [sms] needs url = \"http://...\"");
    auto endpoint = HttpEndpoint::parse(*url);
    if (!endpoint) return std::unexpected(where(gateway->source(), source) + ": " + endpoint.error());
    auto settings = http_settings(*gateway, gateway->source(), source);
    if (!settings) return std::unexpected(settings.error());
    config.sms = std::make_shared<HttpSmsGateway>(std::move(*endpoint), settings->first, settings->second,
                                                  (*gateway)["sign"].value_or<std::string>(""));
  }
  if (const auto* platform = root["oidc"].as_table()) {
    OidcSettings settings;
    for (const auto& [value, key] : {std::pair{&settings.issuer, "issuer"}, {&settings.authorize_url, "authorize_url"},
                                     {&settings.token_url, "token_url"}, {&settings.client_id, "client_id"},
                                     {&settings.redirect_uri, "redirect_uri"}, {&settings.name_claim, "name_claim"},
                                     {&settings.id_number_claim, "id_number_claim"}, {&settings.jwks_url, "jwks_url"}}) {
      if (const auto text = (*platform)[key].value<std::string>()) *value = *text;
    }
    if (const auto variable = (*platform)["client_secret_env"].value<std::string>()) {
      const char* secret = std::getenv(variable->c_str());
      if (!secret || !*secret) {
        return std::unexpected(where(platform->source(), source) + ": the environment variable " + *variable + " (client_secret_env) is not set");
      }
      settings.client_secret = secret;
    }
    settings.timeout = std::chrono::milliseconds((*platform)["timeout_ms"].value_or<std::int64_t>(5000));
    const auto refetch = (*platform)["jwks_refetch_seconds"].value_or<std::int64_t>(60);
    if (refetch < 0 || refetch > 86'400) {
      return std::unexpected(where(platform->source(), source) + ": jwks_refetch_seconds is between 0 and 86400");
    }
    settings.jwks_refetch_after = std::chrono::seconds(refetch);
    auto provider = OidcProvider::create(std::move(settings));
    if (!provider) return std::unexpected(where(platform->source(), source) + ": " + provider.error());
    config.oidc = std::move(*provider);
  }
  if (const auto* results = root["results"].as_table()) {
    if (const auto role = (*results)["role"].value<std::string>()) {
      if (role->empty()) return std::unexpected(where(results->source(), source) + ": results.role must not be empty");
      config.results.role = *role;
    }
  }
  return config;
}

std::expected<AdapterConfig, std::string> load_adapter_config(const std::string& path) {
  auto text = read_text(path);
  if (!text) return std::unexpected(text.error());
  return parse_adapter_config(*text, path);
}

}  // namespace onevisit::adapters
