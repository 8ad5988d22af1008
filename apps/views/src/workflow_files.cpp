#include <onevisit/views/workflow_files.hpp>

#include <algorithm>
#include <filesystem>

namespace onevisit::views {

namespace fs = std::filesystem;

std::optional<std::vector<std::string>> expand_flow_paths(const std::vector<std::string>& arguments,
                                                          std::string& error) {
  std::vector<std::string> out;
  for (const auto& argument : arguments) {
    std::error_code ec;
    if (fs::is_directory(argument, ec)) {
      std::vector<std::string> found;
      for (auto it = fs::recursive_directory_iterator(argument, fs::directory_options::skip_permission_denied, ec);
           !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (it->is_regular_file(ec) && it->path().extension() == ".flow") found.push_back(it->path().generic_string());
      }
      if (ec) {
        error = "cannot list '" + argument + "': " + ec.message();
        return std::nullopt;
      }
      std::sort(found.begin(), found.end());
      out.insert(out.end(), found.begin(), found.end());
    } else if (fs::exists(argument, ec)) {
      out.push_back(argument);
    } else {
      error = "no such file or directory: '" + argument + "'";
      return std::nullopt;
    }
  }
  return out;
}

}  // namespace onevisit::views
