// The replay "engine" of the normal build: runs a fuzz target's LLVMFuzzerTestOneInput on
// every file named on the command line, folders read recursively in name order. A crash is
// a crash (the test fails); a clean run prints how many inputs passed. Used by ctest to keep
// tests/fuzz-regressions/ fixed, and by hand to reproduce a finding:
//   build/fuzz/fuzz_flow tests/fuzz-regressions/flow/deep-and-chain.flow
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);
extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) __attribute__((weak));

namespace fs = std::filesystem;

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  std::vector<fs::path> inputs;
  for (int i = 1; i < argc; ++i) {
    const fs::path path(argv[i]);
    std::error_code ec;
    if (fs::is_directory(path, ec)) {
      for (const auto& entry : fs::recursive_directory_iterator(path)) {
        // README.md and similar notes beside the inputs are not inputs.
        if (entry.is_regular_file() && entry.path().filename().string().front() != '.' && entry.path().extension() != ".md") {
          inputs.push_back(entry.path());
        }
      }
    } else if (fs::is_regular_file(path, ec)) {
      inputs.push_back(path);
    } else if (!fs::exists(path, ec)) {
      continue;  // a target without regression inputs yet has no folder
    } else {
      std::cerr << argv[0] << ": " << path << " is neither a file nor a folder\n";
      return 2;
    }
  }
  std::sort(inputs.begin(), inputs.end());
  for (const auto& path : inputs) {
    std::ifstream in(path, std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!in.good() && !in.eof()) {
      std::cerr << argv[0] << ": cannot read " << path << "\n";
      return 2;
    }
    std::cerr << "replaying " << path.string() << " (" << bytes.size() << " bytes)\n";
    LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  }
  std::cout << inputs.size() << " inputs replayed without a crash\n";
  return 0;
}
