// Fuzz target `flow`: a .flow text through everything `onevisit check` and `deploy` run.
//
// The input is loaded as workflows/bundles/fuzz.flow, so its imports reach the repository's
// real catalog, lifecycles and calendars (read once, served from memory). Then:
//   load (parse) -> check -> compile (with the analysis) when the checker found no error ->
//   every diagnostic located and rendered;
// and, when the text parses cleanly, the formatter's properties: format(f) parses again to
// the same tree, and formatting that again changes nothing.
#include "fuzz_support.hpp"

#include <onevisit/dsl/diagnostic.hpp>
#include <onevisit/dsl/formatter.hpp>
#include <onevisit/dsl/parser.hpp>
#include <onevisit/dsl/program.hpp>
#include <onevisit/engine/compile.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>

namespace {

using namespace onevisit;

// workflows/**.flow of the source tree, keyed by the normalised path load() asks for.
const std::map<std::string, std::string>& repository_workflows() {
  static const std::map<std::string, std::string> files = [] {
    std::map<std::string, std::string> out;
    const std::filesystem::path root = std::filesystem::path(ONEVISIT_SOURCE_DIR);
    std::error_code ec;
    for (auto it = std::filesystem::recursive_directory_iterator(root / "workflows", ec);
         !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
      if (!it->is_regular_file() || it->path().extension() != ".flow") continue;
      std::ifstream in(it->path(), std::ios::binary);
      out[it->path().lexically_relative(root).generic_string()] =
          std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    }
    return out;
  }();
  return files;
}

dsl::FileReader memory_reader() {
  return [](const std::string& path, std::string& error) -> std::optional<std::string> {
    const auto& files = repository_workflows();
    const auto it = files.find(path);
    if (it == files.end()) {
      error = "no such file";
      return std::nullopt;
    }
    return it->second;
  };
}

void check_and_compile(const std::string& text) {
  // The one entry point: it compiles whatever bound, errors elsewhere or not.
  const auto compiled = engine::check_and_compile(dsl::load_text("workflows/bundles/fuzz.flow", text, memory_reader()));
  const auto& located = compiled ? compiled->diagnostics : compiled.error();
  for (const auto& d : located) (void)dsl::render_text(d);
  (void)dsl::render_json(located);
}

void format_round_trip(const std::string& text) {
  const auto parsed = dsl::parse(text, "fuzz.flow");
  if (!parsed.ok()) return;
  const std::string formatted = dsl::format(parsed.file, text);
  const auto reparsed = dsl::parse(formatted, "formatted.flow");
  fuzz::require(reparsed.ok(), "the formatter's output parses");
  fuzz::require(reparsed.file == parsed.file, "the formatter's output parses to the same tree");
  fuzz::require(dsl::format(reparsed.file, formatted) == formatted, "formatting is idempotent");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  check_and_compile(text);
  format_round_trip(text);
  return 0;
}
