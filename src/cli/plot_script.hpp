#pragma once
// Where `qtraj run --plot` and `qtraj demo` find scripts/plot_result.py: nothing about the
// machine that built qtraj is needed once it is installed (docs/configuration.md).
#include <string>
#include <vector>

namespace qtraj::cli {

/// The candidates, in order, for a qtraj binary whose real path (symlinks resolved) is `exe_path`:
///   1. `override_path` when non-empty ($QTRAJ_PLOT_SCRIPT), and then only it;
///   2. <directory of exe_path>/<install_rel>/plot_result.py, the installed tree
///      (`cmake --install`: bin/qtraj and share/qtraj/plot_result.py, install_rel = "../share/qtraj");
///   3. <source_dir>/scripts/plot_result.py, the source tree of a build-tree binary.
/// exe_path or source_dir may be empty (that candidate is then left out).
std::vector<std::string> plot_script_candidates(const std::string& override_path,
                                                const std::string& exe_path,
                                                const std::string& install_rel,
                                                const std::string& source_dir);

/// The first candidate that is a regular file. Throws IoError (one line, naming every path tried
/// and QTRAJ_PLOT_SCRIPT) when none is.
std::string find_plot_script(const std::vector<std::string>& candidates);

/// find_plot_script for this process: $QTRAJ_PLOT_SCRIPT, /proc/self/exe, the install layout and
/// the source directory this binary was configured with.
std::string plot_script_path();

}  // namespace qtraj::cli
