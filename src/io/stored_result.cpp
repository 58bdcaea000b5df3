// read_result and read_dataset (include/qtraj/io/hdf5.hpp) on the validating reader
// (include/qtraj/io/result_reader.hpp).
#include "qtraj/error.hpp"
#include "qtraj/io/hdf5.hpp"
#include "qtraj/io/layout.hpp"
#include "qtraj/io/result_reader.hpp"

namespace qtraj {
namespace {

std::string dims_text(const std::vector<std::uint64_t>& dims) {
  std::string s;
  for (std::size_t k = 0; k < dims.size(); ++k) s += (k ? "x" : "") + std::to_string(dims[k]);
  return s.empty() ? "scalar" : s;
}

}  // namespace

StoredResult read_result(const ResultFile& f, std::uint64_t n_t, std::uint64_t domains) {
  namespace L = layout;
  StoredResult s;
  s.format_version = f.format_version();
  s.result.attributes = f.attributes();
  auto take_string = [&](const L::Entry& e) -> std::string {
    auto it = s.result.attributes.find(e.name());
    if (it == s.result.attributes.end() || !std::holds_alternative<std::string>(it->second)) return "";
    std::string v = std::get<std::string>(it->second);
    s.result.attributes.erase(it);
    return v;
  };
  s.result.solver = take_string(L::attr::solver);
  s.config_text = take_string(L::attr::config);
  s.qtraj_version = take_string(L::attr::qtraj_version);
  s.result.attributes.erase(L::attr::format_version.name());
  if (auto it = s.result.attributes.find(L::attr::domains.name()); it != s.result.attributes.end()) {
    if (auto* v = std::get_if<std::vector<std::int64_t>>(&it->second))
      s.domains.assign(v->begin(), v->end());
    else if (auto* x = std::get_if<std::int64_t>(&it->second))
      s.domains = {*x};
    else
      f.refuse("/@domains", "", "is not a list of integers");
    for (long long n : s.domains)
      if (n < 1) f.refuse("/@domains", std::to_string(n), "spins per domain must be >= 1");
    s.result.attributes.erase(it);
  }
  if (!s.domains.empty()) {
    if (domains != kAnyExtent && s.domains.size() != domains)
      f.refuse("/@domains", std::to_string(s.domains.size()) + " domains",
               "differs from the stored config's " + std::to_string(domains));
    domains = s.domains.size();
  }
  for (const L::Entry* needed : {&L::time, &L::jz_over_n_mean})
    if (!f.has(needed->name()))
      f.refuse(needed->name(), "", "is missing (not a qtraj result?)");
  // /time: n_t points, none NaN (the steady solver's one point is +inf).
  s.result.time = f.doubles(L::time.name(), {n_t}, "time.points of the stored config", ValueRule::not_nan);
  if (s.result.time.empty()) f.refuse(L::time.name(), "", "is empty");
  const std::uint64_t rows = s.result.time.size();
  const std::vector<std::uint64_t> table_shape{rows, domains};
  const std::string table_text = "time x domain";
  auto read_table = [&](const L::Entry& e, ValueRule rule) {
    Table t;
    t.data = f.doubles(e.name(), table_shape, table_text, rule);
    t.rows = rows;
    t.cols = t.data.size() / rows;
    return t;
  };
  s.result.jz_over_n_mean = read_table(L::jz_over_n_mean, ValueRule::finite);
  const std::uint64_t cols = s.result.jz_over_n_mean.cols;
  const std::pair<const L::Entry*, Table*> more[] = {
      {&L::jz_over_n_stderr, &s.result.jz_over_n_stderr},
      {&L::excitations_mean, &s.result.excitations_mean},
      {&L::excitations_stderr, &s.result.excitations_stderr}};
  for (const auto& [entry, table] : more) {
    if (!f.has(entry->name())) {
      *table = Table(rows, cols);
      continue;
    }
    // Every table must be n_t x M, as /time and /jz_over_n/mean say.
    const auto dims = f.shape(entry->name());
    if (dims.size() != 2 || dims[0] != rows || dims[1] != cols)
      f.refuse(entry->name(), dims_text(dims),
               "has the wrong shape, expected " + std::to_string(rows) + "x" + std::to_string(cols) +
                   " (time x domain)");
    *table = read_table(*entry, entry == &L::excitations_mean ? ValueRule::finite
                                                              : ValueRule::finite_non_negative);
  }
  return s;
}

StoredResult read_result(const std::string& path) { return read_result(ResultFile(path)); }

bool read_dataset(const std::string& file_path, const std::string& dataset_path, Dataset* out) {
  const ResultFile file(file_path);
  if (!file.has(dataset_path)) return false;
  *out = file.read(dataset_path);
  return true;
}

}  // namespace qtraj
