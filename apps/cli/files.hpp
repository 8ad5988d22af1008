// File helpers for the CLI: atomic writes (finding .flow files is onevisit/views/workflow_files.hpp).
#pragma once

#include <optional>
#include <string>

namespace onevisit::cli {

/// Writes `text` to `path` through a temporary file and a rename, so a reader never sees a
/// half-written file. Returns an error message, or nothing on success.
std::optional<std::string> write_file_atomically(const std::string& path, const std::string& text);

}  // namespace onevisit::cli
