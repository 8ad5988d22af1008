#include "cli/commands.hpp"

#include "cli/files.hpp"

#include <onevisit/views/workflow_files.hpp>

#include <onevisit/dsl/expr.hpp>
#include <onevisit/dsl/formatter.hpp>
#include <onevisit/engine/calendar.hpp>
#include <onevisit/engine/calendars.hpp>
#include <onevisit/engine/compile.hpp>
#include <onevisit/engine/engine.hpp>
#include <onevisit/engine/figures.hpp>
#include <onevisit/engine/graph_export.hpp>
#include <onevisit/engine/workflow.hpp>
#include <onevisit/dsl/parser.hpp>
#include <onevisit/dsl/program.hpp>

#include <algorithm>
#include <iostream>
#include <iterator>
#include <sstream>

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

extern char** environ;

namespace onevisit::cli {

using views::expand_flow_paths;

namespace {

// Loads, checks, compiles and analyses through the one entry point (engine/compile.hpp):
// everything `onevisit check` reports, and the workflows `graph` and `stats` read.
using Checked = std::expected<engine::CompiledSet, std::vector<dsl::LocatedDiagnostic>>;

Checked load_check_compile(const std::vector<std::string>& paths, const engine::CheckOptions& options = {}) {
  return engine::check_and_compile(dsl::load(paths, dsl::filesystem_reader()), options);
}

// The day a command counts from: --today when given, else the real date in the offices' time
// zone (UTC+8). An error message for a --today that is no date.
std::expected<std::int64_t, std::string> today_from(const std::string& option) {
  if (option.empty()) return engine::day_of(engine::SystemClock().now() / 60'000);  // milliseconds to minutes
  const auto date = dsl::parse_civil_date(option);
  if (!date) return std::unexpected("--today takes a date YYYY-MM-DD, not '" + option + "'");
  return dsl::days_from_civil(*date);
}

std::vector<dsl::LocatedDiagnostic> check_with_analysis(const std::vector<std::string>& paths, std::int64_t today_days) {
  auto c = load_check_compile(paths, engine::CheckOptions{today_days});
  return c ? c->diagnostics : c.error();
}

void print_errors(const Checked& c, std::ostream& err) {
  for (const auto& d : c.error()) {
    if (d.diagnostic.severity == dsl::Severity::error) err << dsl::render_text(d);
  }
}

}  // namespace

int run_check(const CheckOptions& options, std::ostream& out, std::ostream& err) {
  std::string error;
  const auto paths = expand_flow_paths(options.paths, error);
  if (!paths) {
    err << "onevisit check: " << error << "\n";
    return 2;
  }
  if (paths->empty()) {
    err << "onevisit check: no .flow files found\n";
    return 2;
  }
  const auto today = today_from(options.today);
  if (!today) {
    err << "onevisit check: " << today.error() << "\n";
    return 2;
  }
  const auto diagnostics = check_with_analysis(*paths, *today);
  const auto errors = std::count_if(diagnostics.begin(), diagnostics.end(), [](const dsl::LocatedDiagnostic& d) {
    return d.diagnostic.severity == dsl::Severity::error;
  });
  const auto warnings = std::count_if(diagnostics.begin(), diagnostics.end(), [](const dsl::LocatedDiagnostic& d) {
    return d.diagnostic.severity == dsl::Severity::warning;
  });
  if (options.format == OutputFormat::json) {
    out << dsl::render_json(diagnostics) << "\n";
  } else {
    for (const auto& d : diagnostics) out << dsl::render_text(d);
    out << (errors == 0 && warnings == 0 ? "ok: " : "") << errors << (errors == 1 ? " error" : " errors") << ", " << warnings
        << (warnings == 1 ? " warning" : " warnings") << " in " << paths->size() << (paths->size() == 1 ? " file" : " files")
        << "\n";
  }
  return errors > 0 ? 1 : 0;
}

namespace {

// Formats one text; returns nothing (and prints diagnostics) when it does not parse.
std::optional<std::string> format_text(const std::string& text, const std::string& name, std::ostream& err) {
  const auto parsed = dsl::parse(text, name);
  if (!parsed.ok()) {
    const dsl::LineIndex index(text);
    for (const auto& d : parsed.diagnostics) err << dsl::render_text(dsl::locate(d, index));
    return std::nullopt;
  }
  return dsl::format(parsed.file, text);
}

}  // namespace

int run_fmt(const FormatOptions& options, std::istream& in, std::ostream& out, std::ostream& err) {
  int status = 0;
  std::vector<std::string> files;
  for (const auto& p : options.paths) {
    if (p == "-") {
      const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      const auto formatted = format_text(text, "<stdin>", err);
      if (!formatted) return 1;
      if (options.check_only) {
        if (*formatted != text) {
          out << "<stdin>\n";
          status = 1;
        }
      } else {
        out << *formatted;
      }
      continue;
    }
    std::string error;
    const auto expanded = expand_flow_paths({p}, error);
    if (!expanded) {
      err << "onevisit fmt: " << error << "\n";
      return 2;
    }
    files.insert(files.end(), expanded->begin(), expanded->end());
  }
  const auto reader = dsl::filesystem_reader();
  for (const auto& file : files) {
    std::string error;
    const auto text = reader(file, error);
    if (!text) {
      err << "onevisit fmt: cannot read '" << file << "': " << error << "\n";
      status = std::max(status, 2);
      continue;
    }
    const auto formatted = format_text(*text, file, err);
    if (!formatted) {
      status = std::max(status, 1);
      continue;
    }
    if (*formatted == *text) continue;
    if (options.check_only) {
      out << file << "\n";
      status = std::max(status, 1);
    } else if (auto failure = write_file_atomically(file, *formatted)) {
      err << "onevisit fmt: " << *failure << "\n";
      status = 2;
    } else {
      out << "formatted " << file << "\n";
    }
  }
  return status;
}

namespace {

const engine::Workflow* pick_bundle(const engine::CompiledSet& c, const std::string& path, const std::string& bundle,
                                    std::ostream& err) {
  std::vector<const engine::Workflow*> candidates;
  const auto root = c.program->units.empty() ? std::string() : c.program->units.front().path;
  for (const auto& wf : c.workflows) {
    if (!bundle.empty() ? wf->bundle_id == bundle : wf->source_ref.file == root) candidates.push_back(wf.get());
  }
  if (candidates.size() == 1) return candidates.front();
  if (candidates.empty()) {
    err << "onevisit: " << (bundle.empty() ? "no bundle in '" + path + "'" : "no bundle '" + bundle + "'") << "\n";
  } else {
    err << "onevisit: '" << path << "' has several bundles; choose one with --bundle:";
    for (const auto* wf : candidates) err << " " << wf->bundle_id;
    err << "\n";
  }
  return nullptr;
}

// Runs `dot -Tsvg FILE` and returns its output, or an error message.
std::expected<std::string, std::string> render_svg(const std::string& dot_text) {
  char dot_path[] = "/tmp/onevisit-graph-XXXXXX";
  const int fd = ::mkstemp(dot_path);
  if (fd < 0) return std::unexpected(std::string("cannot create a temporary file"));
  const bool written = ::write(fd, dot_text.data(), dot_text.size()) == static_cast<ssize_t>(dot_text.size());
  ::close(fd);
  if (!written) {
    ::unlink(dot_path);
    return std::unexpected(std::string("cannot write a temporary file"));
  }
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0) {
    ::unlink(dot_path);
    return std::unexpected(std::string("cannot create a pipe"));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  char arg0[] = "dot", arg1[] = "-Tsvg";
  char* argv[] = {arg0, arg1, dot_path, nullptr};
  pid_t pid = 0;
  const int spawned = posix_spawnp(&pid, "dot", &actions, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    ::unlink(dot_path);
    return std::unexpected(std::string("Graphviz's 'dot' is not installed (apt-get install graphviz); use --format dot or mermaid"));
  }
  std::string svg;
  char buffer[65536];
  for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) svg.append(buffer, static_cast<std::size_t>(n));
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  ::unlink(dot_path);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::unexpected(std::string("'dot' failed to render the graph"));
  return svg;
}

}  // namespace

int run_graph(const GraphOptions& options, std::ostream& out, std::ostream& err) {
  const auto c = load_check_compile({options.path});
  if (!c) {
    print_errors(c, err);
    return 1;
  }
  std::string dot, mermaid;
  if (!options.lifecycle.empty()) {
    const engine::LifecycleModel* found = nullptr;
    for (const auto& wf : c->workflows) {
      for (const auto& lc : wf->lifecycles) {
        if (lc.id == options.lifecycle) found = &lc;
      }
    }
    if (!found) {
      err << "onevisit graph: no bundle in '" << options.path << "' uses lifecycle '" << options.lifecycle << "'\n";
      return 1;
    }
    dot = engine::lifecycle_dot(*found);
    mermaid = engine::lifecycle_mermaid(*found);
  } else {
    const auto* wf = pick_bundle(*c, options.path, options.bundle, err);
    if (!wf) return 1;
    dot = engine::bundle_dot(*wf);
    mermaid = engine::bundle_mermaid(*wf);
  }
  switch (options.format) {
    case GraphFormat::dot: out << dot; break;
    case GraphFormat::mermaid: out << mermaid; break;
    case GraphFormat::svg: {
      auto svg = render_svg(dot);
      if (!svg) {
        err << "onevisit graph: " << svg.error() << "\n";
        return 2;
      }
      out << *svg;
      break;
    }
  }
  return 0;
}

int run_stats(const StatsOptions& options, std::ostream& out, std::ostream& err) {
  std::string error;
  const auto paths = expand_flow_paths(options.paths, error);
  if (!paths) {
    err << "onevisit stats: " << error << "\n";
    return 2;
  }
  const auto c = load_check_compile(*paths);
  if (!c) {
    print_errors(c, err);
    return 1;
  }
  std::vector<const engine::Workflow*> selected;
  for (const auto& wf : c->workflows) {
    const bool named_file = c->named(*wf);
    if (options.bundle.empty() ? named_file : wf->bundle_id == options.bundle) selected.push_back(wf.get());
  }
  if (selected.empty()) {
    err << "onevisit stats: " << (options.bundle.empty() ? "no bundle in the given files" : "no bundle '" + options.bundle + "'") << "\n";
    return 1;
  }
  // today() and age() read the real date (in the offices' time zone) unless --today says.
  const auto today = today_from(options.today);
  if (!today) {
    err << "onevisit stats: " << today.error() << "\n";
    return 2;
  }
  const std::int64_t today_days = *today;
  std::vector<std::string> json;
  for (const auto* wf : selected) {
    std::map<std::string, dsl::Value> given;
    for (const auto& g : options.given) {
      const auto eq = g.find('=');
      if (eq == std::string::npos) {
        err << "onevisit stats: --given takes field=value, not '" << g << "'\n";
        return 2;
      }
      const std::string name = g.substr(0, eq);
      if (!wf->find_field(name) && selected.size() > 1) continue;  // a field of another bundle
      auto value = engine::parse_field_value(*wf, name, g.substr(eq + 1));
      if (!value) {
        err << "onevisit stats: " << value.error() << "\n";
        return 2;
      }
      given[name] = std::move(*value);
    }
    const auto figures = engine::compute_figures(*wf, given, today_days);
    if (options.format == OutputFormat::json) {
      json.push_back(engine::figures_json(figures));
    } else {
      out << engine::figures_text(figures, *wf);
    }
  }
  if (options.format == OutputFormat::json) {
    if (json.size() == 1) {
      out << json.front() << "\n";
    } else {
      out << "[";
      for (std::size_t i = 0; i < json.size(); ++i) out << (i ? "," : "") << json[i];
      out << "]\n";
    }
  }
  return 0;
}

}  // namespace onevisit::cli
