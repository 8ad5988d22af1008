// Benchmarks of the workflow language on a generated, district-sized catalog
// (839 items, 29 departments, 58 bundles; bench/generator).
//
// Targets (issue 2): parse + check at >= 20 MB/s of workflow text on one core; load the
// whole district (parse + check every file) in under 100 ms.
#include <benchmark/benchmark.h>

#include <onevisit/dsl/parser.hpp>
#include <onevisit/dsl/program.hpp>

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

}  // namespace

BENCHMARK_MAIN();
