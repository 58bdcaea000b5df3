// The plot script's lookup (plot_script.hpp).
#include "plot_script.hpp"

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "qtraj/error.hpp"

// CMakeLists.txt defines QTRAJ_PLOT_SCRIPT_INSTALL_REL (share/qtraj relative to bin, from
// GNUInstallDirs: "../share/qtraj") and QTRAJ_SOURCE_DIR (this source tree).

namespace qtraj::cli {

namespace fs = std::filesystem;

std::vector<std::string> plot_script_candidates(const std::string& override_path,
                                                const std::string& exe_path,
                                                const std::string& install_rel,
                                                const std::string& source_dir) {
  if (!override_path.empty()) return {override_path};
  std::vector<std::string> out;
  if (!exe_path.empty())
    out.push_back((fs::path(exe_path).parent_path() / install_rel / "plot_result.py")
                      .lexically_normal()
                      .string());
  if (!source_dir.empty())
    out.push_back((fs::path(source_dir) / "scripts" / "plot_result.py").lexically_normal().string());
  return out;
}

std::string find_plot_script(const std::vector<std::string>& candidates) {
  std::string tried;
  for (const auto& path : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(path, ec)) return path;
    tried += (tried.empty() ? "" : ", ") + path;
  }
  throw IoError("plot script not found (tried " + (tried.empty() ? std::string("nothing") : tried) +
                "; QTRAJ_PLOT_SCRIPT, when set, is the only path tried)");
}

std::string plot_script_path() {
  const char* env = std::getenv("QTRAJ_PLOT_SCRIPT");
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);  // the real path, symlinks resolved
  return find_plot_script(plot_script_candidates(env ? env : "", ec ? std::string() : exe.string(),
                                                 QTRAJ_PLOT_SCRIPT_INSTALL_REL, QTRAJ_SOURCE_DIR));
}

}  // namespace qtraj::cli
