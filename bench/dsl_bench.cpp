// Benchmarks of the workflow language on a generated, district-sized catalog
// (839 items, 29 departments, 58 bundles; bench/generator).
//
// Targets (issue 2): parse + check at >= 20 MB/s of workflow text on one core; load the
// whole district (parse + check every file) in under 100 ms.
#include <benchmark/benchmark.h>

#include <onevisit/dsl/parser.hpp>
#include <onevisit/dsl/program.hpp>
#include <onevisit/engine/workflow.hpp>

#include "district_generator.hpp"

#include <map>

namespace {

struct District {
  std::map<std::string, std::string> files;
  std::vector<std::string> roots;
  std::size_t bytes = 0;

  District() {
    for (auto& f : onevisit::bench::generate_district({})) {
      bytes += f.text.size();
      roots.push_back(f.path);
      files.emplace(f.path, std::move(f.text));
    }
  }

  onevisit::dsl::FileReader reader() const {
    return [this](const std::string& path, std::string& error) -> std::optional<std::string> {
      const auto it = files.find(path);
      if (it == files.end()) {
        error = "no such file";
        return std::nullopt;
      }
      return it->second;
    };
  }
};

const District& district() {
  static const District instance;
  return instance;
}

void BM_ParseDistrict(benchmark::State& state) {
  const auto& d = district();
  for (auto _ : state) {
    for (const auto& [path, text] : d.files) {
      auto result = onevisit::dsl::parse(text, path);
      benchmark::DoNotOptimize(result);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * d.bytes));
  state.counters["files"] = static_cast<double>(d.files.size());
}
BENCHMARK(BM_ParseDistrict)->Unit(benchmark::kMillisecond);

// Loading the district: read (from memory), parse, resolve imports and check every file.
void BM_LoadAndCheckDistrict(benchmark::State& state) {
  const auto& d = district();
  const auto reader = d.reader();
  std::size_t errors = 0;
  for (auto _ : state) {
    const auto diagnostics = onevisit::dsl::load_and_check(d.roots, reader);
    errors = 0;
    for (const auto& x : diagnostics) errors += x.diagnostic.severity == onevisit::dsl::Severity::error;
    benchmark::DoNotOptimize(errors);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * d.bytes));
  state.counters["errors"] = static_cast<double>(errors);
  state.counters["MB"] = static_cast<double>(d.bytes) / 1e6;
}
BENCHMARK(BM_LoadAndCheckDistrict)->Unit(benchmark::kMillisecond);

// Compiling the whole district into Workflow models (with the static analysis), on top of a
// program that is already loaded, checked and bound. Target: under 50 ms.
void BM_CompileDistrict(benchmark::State& state) {
  const auto& d = district();
  const auto program = onevisit::dsl::load(d.roots, d.reader());
  const auto bound = onevisit::dsl::bind(program);
  std::size_t workflows = 0, findings = 0;
  for (auto _ : state) {
    const auto result = onevisit::engine::compile(bound.document);
    workflows = result.workflows.size();
    findings = result.diagnostics.size();
    benchmark::DoNotOptimize(workflows);
  }
  state.counters["workflows"] = static_cast<double>(workflows);
  state.counters["findings"] = static_cast<double>(findings);
}
BENCHMARK(BM_CompileDistrict)->Unit(benchmark::kMillisecond);

// One bundle with 500 items and 2,000 dependency edges (a random DAG, fixed seed).
std::string large_bundle() {
  std::string text = R"(
lifecycle standard {
  state submitted initial; state accepted; state approved final; state rejected final
  on accept: submitted -> accepted by clerk
  on approve: accepted -> approved by reviewer when materials.verified
  on reject: accepted -> rejected by reviewer requires reason
}
department d "部门"
bundle big "大型一件事" version 1 {
  lifecycle standard
  form { flag: bool default true }
)";
  std::uint64_t seed = 42;
  auto next = [&] {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return seed >> 33;
  };
  const int items = 500;
  int edges = 0;
  for (int i = 0; i < items; ++i) {
    text += "  material m" + std::to_string(i) + " \"材料\" upload pdf\n";
  }
  for (int i = 0; i < items; ++i) {
    text += "  item i" + std::to_string(i) + " \"事项\" by d";
    // Up to 5 distinct earlier items each, until the bundle has exactly 2,000 edges.
    std::vector<int> after;
    const int want = std::min(i, 5);
    while (static_cast<int>(after.size()) < want && edges < 2000) {
      const int before = static_cast<int>(next() % static_cast<std::uint64_t>(i));
      if (std::find(after.begin(), after.end(), before) != after.end()) continue;
      after.push_back(before);
      ++edges;
    }
    for (std::size_t k = 0; k < after.size(); ++k) text += (k ? ", i" : " after i") + std::to_string(after[k]);
    text += " { limit 1 workday; needs m" + std::to_string(i) + " }\n";
  }
  return text + "}\n";
}

void BM_AnalyseLargeBundle(benchmark::State& state) {
  const std::string text = large_bundle();
  const auto program = onevisit::dsl::load_text("big.flow", text, [](const std::string&, std::string& e) -> std::optional<std::string> {
    e = "no imports here";
    return std::nullopt;
  });
  const auto bound = onevisit::dsl::bind(program);
  std::size_t edges = 0;
  for (auto _ : state) {
    const auto result = onevisit::engine::compile(bound.document);
    benchmark::DoNotOptimize(result);
    edges = 0;
    for (const auto& item : result.workflows.at(0)->items) edges += item.after.size();
  }
  state.counters["items"] = 500;
  state.counters["edges"] = static_cast<double>(edges);
}
BENCHMARK(BM_AnalyseLargeBundle)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
