// How a `--db` value may be shown: in messages, logs and command output, a PostgreSQL URL
// never shows its password (docs/operations.md, Connection strings).
//
// Thread safety: a pure function.
#pragma once

#include <string>
#include <string_view>

namespace onevisit::engine {

/// `database` with every password in it replaced by "***": the one in a URL's user
/// information (postgresql://user:secret@host/db) and each `password=` parameter, in the
/// query (?password=…&…) or in a key/value connection string (password=… or password='…').
/// Anything else — an SQLite path — comes back as it is.
std::string masked_database(std::string_view database);

}  // namespace onevisit::engine
