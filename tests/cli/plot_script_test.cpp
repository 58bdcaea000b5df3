// The plot script's lookup (src/cli/plot_script.hpp): $QTRAJ_PLOT_SCRIPT alone when set, else the
// installed tree beside the binary, else the source tree; one line naming every path tried when
// none exists. The installed binary end to end: tests/cli/install_check.sh (ctest Install.*).
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "cli/plot_script.hpp"
#include "qtraj/error.hpp"

namespace fs = std::filesystem;
using qtraj::cli::find_plot_script;
using qtraj::cli::plot_script_candidates;

namespace {

// A scratch tree: <root>/prefix/bin/qtraj, <root>/prefix/share/qtraj/, <root>/src/scripts/.
struct Tree {
  fs::path root = fs::temp_directory_path() / ("qtraj-plot-script-" + std::to_string(::getpid()));
  fs::path exe = root / "prefix/bin/qtraj";
  fs::path installed = root / "prefix/share/qtraj/plot_result.py";
  fs::path source = root / "src";
  fs::path in_source = root / "src/scripts/plot_result.py";
  Tree() {
    fs::create_directories(exe.parent_path());
    fs::create_directories(installed.parent_path());
    fs::create_directories(in_source.parent_path());
  }
  ~Tree() { fs::remove_all(root); }
  static void touch(const fs::path& p) { std::ofstream(p) << "# plot\n"; }
};

}  // namespace

TEST(PlotScript, InstalledTreeBesideTheBinaryComesFirst) {
  Tree t;
  Tree::touch(t.installed);
  Tree::touch(t.in_source);
  const auto c = plot_script_candidates("", t.exe.string(), "../share/qtraj", t.source.string());
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(find_plot_script(c), t.installed.string());
}

TEST(PlotScript, SourceTreeServesABuildTreeBinary) {
  Tree t;
  Tree::touch(t.in_source);
  const auto c = plot_script_candidates("", t.exe.string(), "../share/qtraj", t.source.string());
  EXPECT_EQ(find_plot_script(c), t.in_source.string());
}

TEST(PlotScript, EnvironmentOverrideIsTheOnlyPathTried) {
  Tree t;
  Tree::touch(t.installed);
  const fs::path mine = t.root / "mine.py";
  const auto c = plot_script_candidates(mine.string(), t.exe.string(), "../share/qtraj",
                                        t.source.string());
  ASSERT_EQ(c.size(), 1u);
  EXPECT_THROW(find_plot_script(c), qtraj::IoError);  // missing: no fallback to the installed one
  Tree::touch(mine);
  EXPECT_EQ(find_plot_script(c), mine.string());
}

TEST(PlotScript, NoScriptIsAOneLineErrorNamingEveryPathTried) {
  Tree t;
  const auto c = plot_script_candidates("", t.exe.string(), "../share/qtraj", t.source.string());
  try {
    find_plot_script(c);
    FAIL() << "expected IoError";
  } catch (const qtraj::IoError& e) {
    const std::string what = e.what();
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    EXPECT_NE(what.find(t.installed.string()), std::string::npos) << what;
    EXPECT_NE(what.find(t.in_source.string()), std::string::npos) << what;
    EXPECT_NE(what.find("QTRAJ_PLOT_SCRIPT"), std::string::npos) << what;
  }
}
