// onevisit-gen-district: writes a generated district (calendar, lifecycles, department
// catalogs, bundles) as .flow files under an output directory.
//
//   onevisit-gen-district [--seed N] [--out DIR] [--departments N] [--items N] [--bundles N]
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <system_error>

#include "district_generator.hpp"

namespace {

void usage(std::FILE* out) {
  std::fputs(
      "usage: onevisit-gen-district [--seed N] [--out DIR]\n"
      "                             [--departments N] [--items N] [--bundles N]\n"
      "Writes calendars/, lifecycles/, catalog/ and bundles/ .flow files under DIR\n"
      "(default: ./district). The same seed always gives the same files.\n",
      out);
}

template <class Int>
bool parse_number(std::string_view text, Int& value) {
  const char* first = text.data();
  const char* last = first + text.size();
  const auto [ptr, ec] = std::from_chars(first, last, value);
  return ec == std::errc() && ptr == last;
}

}  // namespace

int main(int argc, char** argv) {
  onevisit::bench::DistrictOptions options;
  std::filesystem::path out = "district";
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      usage(stdout);
      return 0;
    }
    if (i + 1 >= argc) {
      std::fprintf(stderr, "onevisit-gen-district: %s needs a value\n", argv[i]);
      usage(stderr);
      return 2;
    }
    const std::string_view value = argv[++i];
    bool ok = true;
    if (arg == "--seed") {
      ok = parse_number(value, options.seed);
    } else if (arg == "--out") {
      out = std::filesystem::path(std::string(value));
    } else if (arg == "--departments") {
      ok = parse_number(value, options.departments) && options.departments >= 1;
    } else if (arg == "--items") {
      ok = parse_number(value, options.items) && options.items >= 0;
    } else if (arg == "--bundles") {
      ok = parse_number(value, options.bundles) && options.bundles >= 0;
    } else {
      std::fprintf(stderr, "onevisit-gen-district: unknown option %s\n", argv[i - 1]);
      usage(stderr);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "onevisit-gen-district: bad value for %s: %s\n", argv[i - 1], argv[i]);
      return 2;
    }
  }

  const auto files = onevisit::bench::generate_district(options);
  std::uintmax_t bytes = 0;
  for (const auto& file : files) {
    const std::filesystem::path path = out / file.path;
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    if (ec) {
      std::fprintf(stderr, "onevisit-gen-district: cannot create %s: %s\n",
                   path.parent_path().string().c_str(), ec.message().c_str());
      return 1;
    }
    std::ofstream stream(path, std::ios::binary | std::ios::trunc);
    stream.write(file.text.data(), static_cast<std::streamsize>(file.text.size()));
    stream.close();
    if (!stream) {
      std::fprintf(stderr, "onevisit-gen-district: cannot write %s\n", path.string().c_str());
      return 1;
    }
    bytes += file.text.size();
  }
  std::printf("wrote %zu files, %ju bytes under %s (seed %llu)\n", files.size(), bytes,
              out.string().c_str(), static_cast<unsigned long long>(options.seed));
  return 0;
}
