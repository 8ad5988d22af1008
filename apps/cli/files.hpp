// File helpers for the CLI: expanding directories into .flow files, atomic writes.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace onevisit::cli {

/// Expands each argument: a directory becomes every `*.flow` below it (sorted); a file stays
/// as it is. Returns nothing and sets `error` when an argument does not exist.
std::optional<std::vector<std::string>> expand_flow_paths(const std::vector<std::string>& arguments,
                                                          std::string& error);

/// Writes `text` to `path` through a temporary file and a rename, so a reader never sees a
/// half-written file. Returns an error message, or nothing on success.
std::optional<std::string> write_file_atomically(const std::string& path, const std::string& text);

}  // namespace onevisit::cli
