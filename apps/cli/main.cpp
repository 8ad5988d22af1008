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

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  spdlog::set_level(spdlog::level::from_str(log_level));

  if (check_command->parsed()) return onevisit::cli::run_check(check, std::cout, std::cerr);
  if (fmt_command->parsed()) return onevisit::cli::run_fmt(fmt, std::cin, std::cout, std::cerr);
  return 2;
}
