#pragma once
// What every solver returns and the HDF5 writer stores. The contract (README.md, HDF5 layout):
//   /time (n_t), /jz_over_n/mean, /jz_over_n/stderr, /excitations/mean  (n_t x M)
//   root attributes solver, config, qtraj_version, domains.
// Solvers add further datasets and attributes through `extra` and `attributes`, through the
// writers of include/qtraj/io/layout.hpp (which names every path).
#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace qtraj {

/// Row-major 2-D table of doubles (rows = output times, cols = domains unless stated).
struct Table {
  std::size_t rows = 0, cols = 0;
  std::vector<double> data;
  Table() = default;
  Table(std::size_t r, std::size_t c, double fill = 0.0) : rows(r), cols(c), data(r * c, fill) {}
  double& operator()(std::size_t r, std::size_t c) { return data[r * cols + c]; }
  double operator()(std::size_t r, std::size_t c) const { return data[r * cols + c]; }
};

/// A further dataset: path like "/jumps/times", any shape, double or int64 values.
struct Dataset {
  std::string path;
  std::vector<std::uint64_t> shape;
  std::variant<std::vector<double>, std::vector<std::int64_t>> values;
  std::map<std::string, std::string> attributes;  // e.g. "description", "units"
};

using AttributeValue = std::variant<std::string, double, std::int64_t, std::vector<std::int64_t>,
                                    std::vector<double>>;

struct Result {
  std::string solver;              // "exact" | "trajectories" | "meanfield"
  std::vector<double> time;        // n_t, in units of 1/gamma
  Table jz_over_n_mean;            // <J_i^z>/N_i
  Table jz_over_n_stderr;          // standard error (zero for deterministic solvers)
  Table excitations_mean;          // <J_i^z> + N_i/2
  Table excitations_stderr;        // standard error (zero for deterministic solvers)
  std::vector<Dataset> extra;
  std::map<std::string, AttributeValue> attributes;  // extra root attributes

  /// Allocates the four tables as n_t x M zeros.
  void resize(std::size_t n_t, std::size_t n_domains);
};

}  // namespace qtraj
