// The subcommands of `onevisit`, callable from tests without a process.
//
// Each returns the process exit code: 0 success, 1 the input has problems (diagnostics
// were printed), 2 usage or I/O errors.
#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace onevisit::cli {

enum class OutputFormat { text, json };

struct CheckOptions {
  std::vector<std::string> paths;  ///< files or directories
  OutputFormat format = OutputFormat::text;
};
int run_check(const CheckOptions& options, std::ostream& out, std::ostream& err);

struct FormatOptions {
  std::vector<std::string> paths;  ///< files or directories; "-" reads stdin, writes stdout
  bool check_only = false;         ///< list files that are not formatted; change nothing
};
int run_fmt(const FormatOptions& options, std::istream& in, std::ostream& out, std::ostream& err);

}  // namespace onevisit::cli
