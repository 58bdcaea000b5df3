#pragma once
// Conversions between the C++ API and Python for the module qtraj._qtraj (module.cpp): results
// as dicts of numpy arrays named by their HDF5 paths (include/qtraj/io/layout.hpp), root
// attributes as Python values. Nothing here computes physics.
#include <nanobind/nanobind.h>

#include <string>

#include "qtraj/io/hdf5.hpp"
#include "qtraj/io/result.hpp"
#include "qtraj/model/run_config.hpp"

namespace qtraj::python {

/// What qtraj.Result holds: the C++ Result and the run it came from, so that save() hands both
/// to write_result and writes the file the CLI writes.
struct StoredRun {
  Result result;
  RunConfig config;
  bool has_config = true;       // false: a loaded file whose /config does not parse
  std::string config_error;     // ... and why
  std::string qtraj_version;    // of the file (loaded) or of this module (solved)
  std::vector<long long> domains;
  double seconds = 0.0;         // wall time of the solve (0 for a loaded file)
  std::string source;           // the file it was loaded from, "" for a solve
};

/// {HDF5 dataset path: numpy array} for every dataset save() writes, in the order it writes them.
nanobind::dict datasets(const StoredRun& run);
/// {root attribute name: value} as save() writes them (a loaded file: as the file has them).
nanobind::dict attributes(const StoredRun& run);
/// A file's result with every dataset of the layout it holds (read_result + read_dataset).
StoredRun load_stored_run(const std::string& path);

}  // namespace qtraj::python
