// README.md's "## HDF5 layout" table against include/qtraj/io/layout.hpp, both ways: every
// dataset and root attribute the module defines for a result file has a row, and every row names a
// path the module defines (result or checkpoint entries).
#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "qtraj/io/layout.hpp"

namespace qtraj {
namespace {

std::string trim(const std::string& s) {
  const auto a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r") - a + 1);
}

// "| a |  b |" -> "| a | b |": cells trimmed, for comparing header lines.
std::string normalise_row(const std::string& line) {
  std::string out = "|", cell;
  std::istringstream in(trim(line));
  std::getline(in, cell, '|');  // before the first '|'
  while (std::getline(in, cell, '|')) out += " " + trim(cell) + " |";
  // The last getline after a trailing '|' yields nothing, so no empty cell is added.
  return out;
}

struct ReadmeTable {
  std::vector<std::string> paths;  // first cells, backticks removed
  std::vector<std::string> problems;
};

// The one table of the section whose heading line is exactly "## HDF5 layout" (the section
// ends at the next heading of level 1 or 2).
ReadmeTable read_layout_table(const std::string& readme_path) {
  ReadmeTable t;
  std::ifstream in(readme_path);
  if (!in) {
    t.problems.push_back("cannot read " + readme_path);
    return t;
  }
  std::vector<std::vector<std::string>> tables;  // lines of each table in the section
  bool in_section = false, found = false, in_table = false;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line == "## HDF5 layout") {
      if (found) t.problems.push_back("two sections '## HDF5 layout'");
      in_section = found = true;
      continue;
    }
    if (in_section && (line.rfind("# ", 0) == 0 || line.rfind("## ", 0) == 0)) in_section = false;
    if (!in_section) continue;
    const bool row = trim(line).rfind('|', 0) == 0;
    if (row && !in_table) tables.emplace_back();
    if (row) tables.back().push_back(line);
    in_table = row;
  }
  if (!found) {
    t.problems.push_back("no line '## HDF5 layout'");
    return t;
  }
  if (tables.size() != 1) {
    t.problems.push_back("the section holds " + std::to_string(tables.size()) +
                         " tables, not one");
    return t;
  }
  const auto& rows = tables[0];
  if (rows.size() < 2 || normalise_row(rows[0]) != "| path | shape | content |") {
    t.problems.push_back("the table's header is not '| path | shape | content |': " + rows[0]);
    return t;
  }
  for (std::size_t r = 2; r < rows.size(); ++r) {
    const std::string body = trim(rows[r]).substr(1);
    const std::string cell = trim(body.substr(0, body.find('|')));
    if (cell.size() < 3 || cell.front() != '`' || cell.back() != '`' ||
        cell.find('`', 1) != cell.size() - 1) {
      t.problems.push_back("row " + std::to_string(r + 1) +
                           ": the first cell is not one path in backticks: " + cell);
      continue;
    }
    t.paths.push_back(cell.substr(1, cell.size() - 2));
  }
  return t;
}

std::string readme() { return std::string(QTRAJ_SOURCE_DIR) + "/README.md"; }

TEST(LayoutReadme, TheSectionHoldsOneTableOfPaths) {
  const ReadmeTable t = read_layout_table(readme());
  for (const auto& p : t.problems) ADD_FAILURE() << p;
  EXPECT_FALSE(t.paths.empty());
  std::set<std::string> seen;
  for (const auto& p : t.paths) EXPECT_TRUE(seen.insert(p).second) << p << " has two rows";
}

TEST(LayoutReadme, EveryResultPathOfTheModuleHasARow) {
  const ReadmeTable t = read_layout_table(readme());
  ASSERT_TRUE(t.problems.empty()) << t.problems.front();
  const std::set<std::string> rows(t.paths.begin(), t.paths.end());
  for (const layout::Entry& e : layout::result_entries())
    EXPECT_TRUE(rows.count(std::string(e.path))) << e.path << " has no row in README.md";
}

TEST(LayoutReadme, EveryRowIsAPathOfTheModule) {
  const ReadmeTable t = read_layout_table(readme());
  ASSERT_TRUE(t.problems.empty()) << t.problems.front();
  std::set<std::string> defined;
  for (const auto* list : {&layout::result_entries(), &layout::checkpoint_entries()})
    for (const layout::Entry& e : *list) defined.insert(std::string(e.path));
  for (const auto& p : t.paths)
    EXPECT_TRUE(defined.count(p)) << "README.md row " << p << " is not in include/qtraj/io/layout.hpp";
}

}  // namespace
}  // namespace qtraj
