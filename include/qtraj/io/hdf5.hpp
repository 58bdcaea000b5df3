#pragma once
// HDF5 output (C API). write_result writes to "<path>.tmp-<host>-<pid>" and renames, so a failed or
// interrupted run never leaves a half-written file at `path`.
#include <string>

#include "qtraj/io/result.hpp"
#include "qtraj/model/run_config.hpp"

namespace qtraj {

/// Writes the result: layout::contract_datasets and contract_attributes (solver, config (the
/// run-file text), qtraj_version, domains, initial), then result.extra and result.attributes.
/// Throws IoError on failure (and removes the temporary file).
void write_result(const std::string& path, const Result& result, const RunConfig& config);

/// The temporary write_result writes `path` to in this process: "<path>.tmp-<host>-<pid>" (the
/// CLI removes it when a signal ends the process during the write).
std::string temporary_path(const std::string& path);

/// Deletes the temporaries "<path>.tmp-<host>-<pid>" that writers on this host left behind when
/// they were killed mid-write (their pid no longer exists); called by write_result. Returns how
/// many it removed. Temporaries of live processes and of other hosts are left alone.
int remove_stale_temporaries(const std::string& path);

/// Checks that `path` can be created (directory exists and is writable) before a long run.
/// Throws InputError("output.path", path, ...).
void check_output_writable(const std::string& path);

/// Reads back what write_result wrote (the contract datasets and the string, integer and double
/// root attributes), through the validating reader (include/qtraj/io/result_reader.hpp).
/// Throws IoError naming the file, the dataset or attribute, and the value.
struct StoredResult {
  Result result;
  std::string config_text;
  std::string qtraj_version;
  std::vector<long long> domains;
  std::int64_t format_version = 1;  // layout::kFormatVersion; 1: written before the attribute
};
StoredResult read_result(const std::string& path);

/// Reads any dataset of a result file (e.g. "/aggregator/m2"): double datasets as doubles,
/// integer ones as int64, size-checked (ResultFile::read). Returns false if the file has no such
/// dataset; throws IoError otherwise.
bool read_dataset(const std::string& file, const std::string& dataset_path, Dataset* out);

}  // namespace qtraj
