// masked_database (database_url.hpp).
#include <onevisit/engine/database_url.hpp>

#include <algorithm>

namespace onevisit::engine {

std::string masked_database(std::string_view database) {
  std::string out(database);
  if (const auto scheme = out.find("://"); scheme != std::string::npos) {
    // postgresql://user:secret@host…: the user information ends at the last '@' before the
    // path (a password may itself hold an '@' or a ':').
    const auto path = out.find_first_of("/?", scheme + 3);
    const auto at = out.rfind('@', path == std::string::npos ? std::string::npos : path);
    if (at != std::string::npos && at > scheme) {
      const auto colon = out.find(':', scheme + 3);
      if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
    }
  }
  // Every password=… parameter: up to '&' in a URL, up to a space (or the closing quote of a
  // quoted value) in a key/value string.
  for (std::size_t from = 0;;) {
    const auto key = out.find("password", from);
    if (key == std::string::npos) break;
    auto value = key + 8;
    while (value < out.size() && out[value] == ' ') ++value;
    const bool is_parameter = (key == 0 || out[key - 1] == '?' || out[key - 1] == '&' || out[key - 1] == ' ') &&
                              value < out.size() && out[value] == '=';
    if (!is_parameter) {
      from = key + 8;
      continue;
    }
    ++value;
    while (value < out.size() && out[value] == ' ') ++value;
    std::size_t end = value;
    if (value < out.size() && out[value] == '\'') {
      end = value + 1;
      while (end < out.size() && out[end] != '\'') end += out[end] == '\\' ? 2 : 1;
      end = std::min(end + 1, out.size());
    } else {
      end = out.find_first_of("& ", value);
      if (end == std::string::npos) end = out.size();
    }
    out.replace(value, end - value, "***");
    from = value + 3;
  }
  return out;
}

}  // namespace onevisit::engine
