// District generator: writes a synthetic but realistic district — departments, their service
// item catalogs, a holiday calendar, the standard lifecycle and "one thing" bundles — as
// `.flow` files following docs/grammar.md. Used by benchmarks and load tests.
//
// Contract:
// - Deterministic: the same options give byte-identical output on every platform. The
//   generator uses its own PRNG (splitmix64) and never std::*_distribution, unordered
//   containers or floating point.
// - Closed: every name a file references is declared in that file or in a file it imports
//   (transitively); catalog imports point only to lower-numbered departments, so the import
//   graph is acyclic.
// - Pure: no I/O and no global state; safe to call from several threads at once.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace onevisit::bench {

// One generated file. `path` is relative to the output root and uses '/', e.g.
// "catalog/dept_07.flow".
struct GeneratedFile {
  std::string path;
  std::string text;
};

struct DistrictOptions {
  std::uint64_t seed = 1;  // Default: 1.
  int departments = 29;    // Default: 29 (the district in DESIGN.md). Values < 1 act as 1.
  int items = 839;         // Default: 839 catalog items spread over the departments.
  int bundles = 58;        // Default: 58 bundles, each using 3..30 catalog items (all the
                           // items there are when `items` < 3).
};

// Returns calendars/district.flow, lifecycles/standard.flow, catalog/dept_NN.flow (one per
// department) and bundles/bundle_NN.flow (one per bundle), in that order.
std::vector<GeneratedFile> generate_district(const DistrictOptions& options);

}  // namespace onevisit::bench
