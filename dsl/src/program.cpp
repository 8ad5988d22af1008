#include <onevisit/dsl/program.hpp>

#include <onevisit/dsl/parser.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace onevisit::dsl {

namespace fs = std::filesystem;

std::string_view builtin_event_title(std::string_view event) {
  static constexpr std::pair<std::string_view, std::string_view> kEvents[] = {
      {"accept", "受理"},           {"approve", "审批通过"},         {"reject", "不予许可"},
      {"request_correction", "要求补正"}, {"corrected", "补正完成"}, {"refuse_intake", "不予受理"},
      {"withdraw", "撤回"},          {"review", "审查"},             {"auto_accept", "自动受理"},
      {"issue", "出证"},             {"inspect", "现场核查"},        {"submit", "提交"}};
  for (const auto& [name, title] : kEvents) {
    if (name == event) return title;
  }
  return {};
}

FileReader filesystem_reader(std::size_t max_bytes) {
  return [max_bytes](const std::string& path, std::string& error) -> std::optional<std::string> {
    std::error_code ec;
    const auto status = fs::status(path, ec);
    if (ec || !fs::exists(status)) {
      error = "no such file";
      return std::nullopt;
    }
    if (fs::is_directory(status)) {
      error = "is a directory";
      return std::nullopt;
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) {
      error = std::strerror(errno);
      return std::nullopt;
    }
    std::string text;
    char buffer[1 << 16];
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
      text.append(buffer, static_cast<std::size_t>(in.gcount()));
      if (text.size() > max_bytes) {
        error = "larger than " + std::to_string(max_bytes >> 20) + " MiB";
        return std::nullopt;
      }
    }
    if (in.bad()) {
      error = "read error";
      return std::nullopt;
    }
    return text;
  };
}

std::optional<std::size_t> Program::find(std::string_view path) const {
  for (std::size_t i = 0; i < units.size(); ++i) {
    if (units[i].path == path) return i;
  }
  return std::nullopt;
}

std::vector<std::size_t> Program::visible_from(std::size_t unit) const {
  std::vector<std::size_t> order{unit};
  std::vector<bool> seen(units.size(), false);
  seen[unit] = true;
  for (std::size_t i = 0; i < order.size(); ++i) {
    for (const auto next : units[order[i]].imports) {
      if (!seen[next]) {
        seen[next] = true;
        order.push_back(next);
      }
    }
  }
  return order;
}

std::vector<LocatedDiagnostic> Program::located(const std::vector<Diagnostic>& diagnostics) const {
  std::vector<LocatedDiagnostic> out;
  out.reserve(diagnostics.size());
  for (const auto& d : diagnostics) {
    const auto unit = find(d.file);
    if (unit && units[*unit].index) {
      out.push_back(locate(d, *units[*unit].index));
    } else {
      out.push_back(LocatedDiagnostic{d, {}, {}, {}});
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const LocatedDiagnostic& a, const LocatedDiagnostic& b) {
    if (a.diagnostic.follow_on != b.diagnostic.follow_on) return b.diagnostic.follow_on;
    if (a.diagnostic.file != b.diagnostic.file) return a.diagnostic.file < b.diagnostic.file;
    return a.diagnostic.span.begin < b.diagnostic.span.begin;
  });
  return out;
}

namespace {

std::string normalise(const fs::path& path) {
  std::string out = path.lexically_normal().generic_string();
  return out.empty() ? "." : out;
}

class Loader {
 public:
  Loader(Program& program, const FileReader& reader) : program_(program), reader_(reader) {}

  // Adds a file by path; returns its index or nothing when it cannot be read.
  std::optional<std::size_t> add(const std::string& raw_path, bool is_root, const Diagnostic* at_import) {
    const std::string path = normalise(raw_path);
    if (auto existing = program_.find(path)) {
      program_.units[*existing].is_root = program_.units[*existing].is_root || is_root;
      return existing;
    }
    if (program_.units.size() >= kMaxFiles) {
      if (!too_many_reported_) {
        too_many_reported_ = true;
        Diagnostic d = at_import ? *at_import : Diagnostic{path, {}, Severity::error, "", ""};
        d.code = "too-many-files";
        d.message = "a program loads at most " + std::to_string(kMaxFiles) + " files; '" + path + "' is one more";
        program_.diagnostics.push_back(std::move(d));
      }
      return std::nullopt;
    }
    std::string error;
    auto text = reader_(path, error);
    if (!text) {
      Diagnostic d = at_import ? *at_import : Diagnostic{path, {}, Severity::error, "", ""};
      d.code = at_import ? "import-not-found" : "file-not-found";
      d.message = "cannot read '" + path + "': " + error;
      program_.diagnostics.push_back(std::move(d));
      return std::nullopt;
    }
    return add_text(path, std::move(*text), is_root);
  }

  std::size_t add_text(std::string path, std::string text, bool is_root) {
    SourceUnit unit;
    unit.path = std::move(path);
    unit.text = std::move(text);
    unit.is_root = is_root;
    auto parsed = parse(unit.text, unit.path);
    unit.file = std::move(parsed.file);
    unit.index = std::make_unique<LineIndex>(unit.text);
    for (auto& d : parsed.diagnostics) program_.diagnostics.push_back(std::move(d));
    program_.units.push_back(std::move(unit));
    const std::size_t index = program_.units.size() - 1;
    pending_.push_back(index);
    return index;
  }

  void resolve_imports() {
    while (!pending_.empty()) {
      const std::size_t index = pending_.back();
      pending_.pop_back();
      // Copy what we need: adding units may reallocate program_.units.
      const fs::path directory = fs::path(program_.units[index].path).parent_path();
      std::vector<ast::Import> imports;
      for (const auto& d : program_.units[index].file.declarations) {
        if (d.kind == ast::DeclarationKind::import) imports.push_back(*d.import);
      }
      const std::string importer = program_.units[index].path;
      for (const auto& import : imports) {
        const Diagnostic at{importer, import.path.span, Severity::error, "", ""};
        if (import.path.value.empty()) {
          program_.diagnostics.push_back(Diagnostic{importer, import.path.span, Severity::error, "import-not-found",
                                                    "import path is empty"});
          continue;
        }
        const fs::path target = fs::path(import.path.value).is_absolute() ? fs::path(import.path.value)
                                                                          : directory / import.path.value;
        if (auto imported = add(target.string(), false, &at)) {
          auto& list = program_.units[index].imports;
          if (std::find(list.begin(), list.end(), *imported) == list.end()) {
            list.push_back(*imported);
            import_spans_[{index, *imported}] = import.path.span;
          }
        }
      }
    }
  }

  // Reports every import that closes a cycle, with the cycle's path. Depth-first with an
  // explicit stack: a chain of 20,000 imports must not recurse 20,000 levels.
  void report_cycles() {
    const std::size_t n = program_.units.size();
    std::vector<int> state(n, 0);  // 0 new, 1 on stack, 2 done
    struct Frame {
      std::size_t unit;
      std::size_t next_import = 0;
    };
    std::vector<Frame> stack;
    for (std::size_t root = 0; root < n; ++root) {
      if (state[root] != 0) continue;
      state[root] = 1;
      stack.push_back({root});
      while (!stack.empty()) {
        Frame& top = stack.back();
        const auto& imports = program_.units[top.unit].imports;
        if (top.next_import == imports.size()) {
          state[top.unit] = 2;
          stack.pop_back();
          continue;
        }
        const std::size_t u = top.unit;
        const std::size_t v = imports[top.next_import++];
        if (state[v] == 1) {
          std::string path;
          const auto start =
              std::find_if(stack.begin(), stack.end(), [v](const Frame& f) { return f.unit == v; });
          for (auto it = start; it != stack.end(); ++it) path += program_.units[it->unit].path + " -> ";
          path += program_.units[v].path;
          program_.diagnostics.push_back(Diagnostic{program_.units[u].path, import_spans_[{u, v}], Severity::error,
                                                    "import-cycle", "import cycle: " + path});
        } else if (state[v] == 0) {
          state[v] = 1;
          stack.push_back({v});  // `top` is not used past this point: push_back may move it
        }
      }
    }
  }

 private:
  Program& program_;
  const FileReader& reader_;
  std::vector<std::size_t> pending_;
  std::map<std::pair<std::size_t, std::size_t>, Span> import_spans_;
  bool too_many_reported_ = false;
};

}  // namespace

Program load(const std::vector<std::string>& paths, const FileReader& reader) {
  Program program;
  Loader loader(program, reader);
  for (const auto& path : paths) loader.add(path, true, nullptr);
  loader.resolve_imports();
  loader.report_cycles();
  return program;
}

Program load_text(std::string name, std::string text, const FileReader& reader) {
  Program program;
  Loader loader(program, reader);
  loader.add_text(normalise(name), std::move(text), true);
  loader.resolve_imports();
  loader.report_cycles();
  return program;
}

std::vector<LocatedDiagnostic> load_and_check(const std::vector<std::string>& paths, const FileReader& reader) {
  Program program = load(paths, reader);
  std::vector<Diagnostic> all = program.diagnostics;
  auto checked = check(program);
  all.insert(all.end(), std::make_move_iterator(checked.begin()), std::make_move_iterator(checked.end()));
  return program.located(all);
}

}  // namespace onevisit::dsl
