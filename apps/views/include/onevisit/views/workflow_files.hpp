// Finding workflow files: what `onevisit deploy` and `onevisit serve --workflows` read.
//
// Thread safety: reads the file system only.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace onevisit::views {

/// Expands each argument: a directory becomes every `*.flow` below it (sorted); a file stays
/// as it is. Returns nothing and sets `error` when an argument does not exist.
std::optional<std::vector<std::string>> expand_flow_paths(const std::vector<std::string>& arguments, std::string& error);

}  // namespace onevisit::views
