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

enum class GraphFormat { dot, mermaid, svg };

struct GraphOptions {
  std::string path;
  std::string bundle;     ///< empty: the only bundle of the file
  std::string lifecycle;  ///< draw this lifecycle instead of the bundle
  GraphFormat format = GraphFormat::dot;
};
int run_graph(const GraphOptions& options, std::ostream& out, std::ostream& err);

struct StatsOptions {
  std::vector<std::string> paths;  ///< files or directories
  std::string bundle;              ///< empty: every bundle in the given files
  std::vector<std::string> given;  ///< field=value
  OutputFormat format = OutputFormat::text;
  std::string today;               ///< YYYY-MM-DD that today() reads; empty: the real date (UTC+8)
};
int run_stats(const StatsOptions& options, std::ostream& out, std::ostream& err);

}  // namespace onevisit::cli
