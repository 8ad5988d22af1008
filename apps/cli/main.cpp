// onevisit — the command-line tool for service designers, clerks and operators.
#include "cli/commands.hpp"

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include <iostream>
#include <map>

int main(int argc, char** argv) {
  CLI::App app{"onevisit: workflows for \"one thing, one visit\" government services"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "onevisit 0.1.0");
  std::string log_level = "warn";
  app.add_option("--log-level", log_level, "trace, debug, info, warn, error or off")->default_val("warn");

  const std::map<std::string, onevisit::cli::OutputFormat> formats{{"text", onevisit::cli::OutputFormat::text},
                                                                  {"json", onevisit::cli::OutputFormat::json}};

  onevisit::cli::CheckOptions check;
  auto* check_command = app.add_subcommand("check", "Check workflow files: syntax, names, types, limits, lifecycles");
  check_command->add_option("files", check.paths, "Workflow files or directories (every *.flow below)")->required();
  check_command->add_option("--format", check.format, "Output format: text or json")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case));

  onevisit::cli::FormatOptions fmt;
  auto* fmt_command = app.add_subcommand("fmt", "Format workflow files in place (canonical layout)");
  fmt_command->add_option("files", fmt.paths, "Workflow files or directories; - formats stdin to stdout")->required();
  fmt_command->add_flag("--check", fmt.check_only, "List files that are not formatted and exit 1; change nothing");

  onevisit::cli::GraphOptions graph;
  auto* graph_command = app.add_subcommand("graph", "Draw a bundle's items or a lifecycle's states (DOT, Mermaid or SVG)");
  graph_command->add_option("file", graph.path, "A workflow file")->required();
  graph_command->add_option("--bundle", graph.bundle, "The bundle to draw (when the file has several)");
  graph_command->add_option("--lifecycle", graph.lifecycle, "Draw this lifecycle instead");
  const std::map<std::string, onevisit::cli::GraphFormat> graph_formats{{"dot", onevisit::cli::GraphFormat::dot},
                                                                       {"mermaid", onevisit::cli::GraphFormat::mermaid},
                                                                       {"svg", onevisit::cli::GraphFormat::svg}};
  graph_command->add_option("--format", graph.format, "dot, mermaid or svg (needs Graphviz)")
      ->transform(CLI::CheckedTransformer(graph_formats, CLI::ignore_case));

  onevisit::cli::StatsOptions stats;
  auto* stats_command = app.add_subcommand("stats", "A bundle's figures: materials, visits and working days, separately vs bundled");
  stats_command->add_option("files", stats.paths, "Workflow files or directories")->required();
  stats_command->add_option("--bundle", stats.bundle, "Only this bundle");
  stats_command->add_option("--given", stats.given, "A situation answer, field=value (repeatable)");
  stats_command->add_option("--format", stats.format, "Output format: text or json")
      ->transform(CLI::CheckedTransformer(formats, CLI::ignore_case));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));

  if (check_command->parsed()) return onevisit::cli::run_check(check, std::cout, std::cerr);
  if (fmt_command->parsed()) return onevisit::cli::run_fmt(fmt, std::cin, std::cout, std::cerr);
  if (graph_command->parsed()) return onevisit::cli::run_graph(graph, std::cout, std::cerr);
  if (stats_command->parsed()) return onevisit::cli::run_stats(stats, std::cout, std::cerr);
  return 2;
}
