// include/qtraj/io/layout.hpp: the entry lists, family paths, the writers' guards, and that
// every solver's result (and the file write_result makes of it) holds only paths it defines.
#include <gtest/gtest.h>
#include <hdf5.h>
#include <unistd.h>

#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "qtraj/io/hdf5.hpp"
#include "qtraj/io/layout.hpp"
#include "qtraj/solvers.hpp"

namespace qtraj {
namespace {

namespace fs = std::filesystem;

TEST(Layout, EntriesAreUniqueAndDescribed) {
  std::set<std::string> paths;
  for (const auto* list : {&layout::result_entries(), &layout::checkpoint_entries()})
    for (const layout::Entry& e : *list) {
      EXPECT_TRUE(paths.insert(std::string(e.path)).second) << e.path << " defined twice";
      EXPECT_FALSE(e.shape.empty()) << e.path;
      EXPECT_FALSE(e.description.empty()) << e.path;
      EXPECT_EQ(e.path.front(), '/') << e.path;
    }
  for (const layout::Entry& e : layout::checkpoint_entries())
    EXPECT_TRUE(e.is_attribute() || e.path.rfind("/checkpoint/", 0) == 0) << e.path;
}

TEST(Layout, FindsEntriesAndFamilyMembers) {
  ASSERT_NE(layout::find("/time"), nullptr);
  EXPECT_EQ(layout::find("/time")->path, layout::time.path);
  ASSERT_NE(layout::find("/populations/domain_12"), nullptr);
  EXPECT_EQ(layout::find("/populations/domain_12")->path, layout::populations.path);
  EXPECT_EQ(layout::find("/populations/domain_0"), nullptr);
  EXPECT_EQ(layout::find("/populations/domain_x"), nullptr);
  EXPECT_EQ(layout::find("/populations/domain_"), nullptr);
  EXPECT_EQ(layout::find("/jumps/times"), nullptr);
  ASSERT_NE(layout::find("/@solver"), nullptr);
  EXPECT_TRUE(layout::find("/@solver")->is_attribute());
  EXPECT_EQ(layout::find("/@solver")->name(), "solver");
  EXPECT_NE(layout::find("/checkpoint/pending_m2"), nullptr);
  EXPECT_NE(layout::find("/@checkpoint_fingerprint"), nullptr);
}

TEST(Layout, DomainPathsAndGroups) {
  EXPECT_EQ(layout::domain_path(layout::populations, 0), "/populations/domain_1");
  EXPECT_EQ(layout::domain_path(layout::populations, 9), "/populations/domain_10");
  EXPECT_THROW(layout::domain_path(layout::time, 0), std::logic_error);
  const auto groups = layout::result_groups();
  const std::set<std::string> g(groups.begin(), groups.end());
  for (const char* want : {"/jz_over_n", "/excitations", "/jplus_jminus", "/jminus", "/populations",
                           "/emitted_energy", "/jumps", "/jump_counts", "/aggregator",
                           "/total_spin", "/local_quanta"})
    EXPECT_TRUE(g.count(want)) << want;
  EXPECT_EQ(g.size(), 11u);
}

TEST(Layout, WritersRefuseTheWrongEntry) {
  Result r;
  // Entries whose description names the solver have their own writers.
  EXPECT_THROW(layout::add(r, layout::jplus_jminus_mean, {1}, std::vector<double>{1.0}),
               std::logic_error);
  EXPECT_THROW(layout::add(r, layout::populations, {1}, std::vector<double>{1.0}),
               std::logic_error);
  EXPECT_THROW(layout::add(r, layout::attr::seed, {1}, std::vector<double>{1.0}),
               std::logic_error);
  EXPECT_THROW(layout::set(r, layout::time, std::int64_t{1}), std::logic_error);
  EXPECT_THROW(layout::add_populations(r, 0, Table(1, 2), layout::Source::trajectories),
               std::logic_error);
  EXPECT_TRUE(r.extra.empty());
  EXPECT_TRUE(r.attributes.empty());
  layout::add(r, layout::emitted_quanta, {2}, std::vector<double>{1.0, 2.0});
  layout::set(r, layout::attr::seed, std::int64_t{7});
  ASSERT_EQ(r.extra.size(), 1u);
  EXPECT_EQ(r.extra[0].path, "/emitted_quanta");
  EXPECT_EQ(r.extra[0].attributes.at("description"), std::string(layout::emitted_quanta.description));
  EXPECT_EQ(std::get<std::int64_t>(r.attributes.at("seed")), 7);
}

RunConfig config(const std::string& solver_section, const std::string& nbar = "0.0",
                 const std::string& initial = "\"excited\", \"ground\"",
                 const std::string& domains = "[2, 1]") {
  return parse_run_config("[system]\ndomains = " + domains + "\ninitial = [" + initial +
                          "]\n[[reservoir]]\ndomains = [1, 2]\ngamma = 1.0\nnbar = " + nbar +
                          "\n[time]\nend = 2.0\npoints = 5\n[solver]\n" + solver_section + "\n");
}

// Names of every object below the root of an HDF5 file (H5Lvisit order), with its type.
herr_t collect(hid_t group, const char* name, const H5L_info_t*, void* data) {
  auto* out = static_cast<std::vector<std::pair<std::string, H5I_type_t>>*>(data);
  const hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
  out->emplace_back("/" + std::string(name), obj >= 0 ? H5Iget_type(obj) : H5I_BADID);
  if (obj >= 0) H5Oclose(obj);
  return 0;
}

TEST(Layout, EverySolverWritesOnlyPathsTheModuleDefines) {
  const std::vector<RunConfig> runs{
      config("kind = \"exact\""),
      config("kind = \"exact\"", "0.3"),
      config("kind = \"exact\"\n[[local]]\ndomains = [1]\nemission = 0.1\ndephasing = 0.05"),
      config("kind = \"steady\""),
      config("kind = \"meanfield\"\nclosure = \"z_right\"", "0.0", "\"coherent 1.0 0.5\", \"ground\""),
      config("kind = \"meanfield\"\nclosure = \"fourth_order\"", "0.0", "\"excited\", \"ground\"",
             "[20, 10]"),
      config("kind = \"meanfield\"\n[[local]]\ndephasing = 0.5\npumping = 0.1"),
      config("kind = \"trajectories\"\ntrajectories = 16\nrecord_jumps = 2\nthreads = 1"),
      config("kind = \"trajectories\"\ntrajectories = 16\nrecord_jumps = 4\nthreads = 1\n"
             "[[local]]\nemission = 0.5\ndephasing = 0.5")};
  const fs::path dir = fs::temp_directory_path() / ("qtraj_layout_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  const auto groups = layout::result_groups();
  const std::set<std::string> known_groups(groups.begin(), groups.end());
  std::set<std::string> datasets_seen;
  for (std::size_t k = 0; k < runs.size(); ++k) {
    const Result r = solve(runs[k]);
    SCOPED_TRACE(r.solver);
    for (const Dataset& d : r.extra) {
      const layout::Entry* e = layout::find(d.path);
      ASSERT_NE(e, nullptr) << d.path << " is not in the layout";
      EXPECT_FALSE(e->is_attribute()) << d.path;
      EXPECT_FALSE(d.attributes.at("description").empty()) << d.path;
    }
    for (const auto& [name, value] : r.attributes) {
      const layout::Entry* e = layout::find("/@" + name);
      ASSERT_NE(e, nullptr) << "root attribute " << name << " is not in the layout";
    }
    // The file: every dataset and group is the layout's, every root attribute too.
    const std::string path = (dir / ("r" + std::to_string(k) + ".h5")).string();
    write_result(path, r, runs[k]);
    const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
    ASSERT_GE(file, 0);
    std::vector<std::pair<std::string, H5I_type_t>> objects;
    H5Lvisit(file, H5_INDEX_NAME, H5_ITER_INC, collect, &objects);
    for (const auto& [name, type] : objects) {
      if (type == H5I_GROUP) {
        EXPECT_TRUE(known_groups.count(name)) << "group " << name;
      } else {
        EXPECT_EQ(type, H5I_DATASET) << name;
        EXPECT_NE(layout::find(name), nullptr) << "dataset " << name;
        datasets_seen.insert(name);
      }
    }
    const int n_attr = H5Aget_num_attrs(file);
    for (int a = 0; a < n_attr; ++a) {
      const hid_t attr = H5Aopen_by_idx(file, ".", H5_INDEX_NAME, H5_ITER_INC, a, H5P_DEFAULT,
                                        H5P_DEFAULT);
      char name[256] = {0};
      H5Aget_name(attr, sizeof(name), name);
      H5Aclose(attr);
      EXPECT_NE(layout::find("/@" + std::string(name)), nullptr) << "root attribute " << name;
    }
    H5Fclose(file);
  }
  fs::remove_all(dir);
  // Together the runs write every dataset the layout defines for a result file.
  for (const layout::Entry& e : layout::result_entries()) {
    if (e.is_attribute()) continue;
    bool seen = false;
    for (const auto& name : datasets_seen) seen = seen || layout::find(name)->path == e.path;
    EXPECT_TRUE(seen) << e.path << " is written by none of the runs";
  }
}

}  // namespace
}  // namespace qtraj
