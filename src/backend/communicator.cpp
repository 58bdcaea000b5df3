// The one-process communicator, agree_on_error and ParallelSession (include/qtraj/backend/communicator.hpp).
#include "qtraj/backend/communicator.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace qtraj::backend {
namespace {

/// The number of ranks an MPI launcher announced, 0 when not started by one.
int launcher_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(var)) return std::max(1, std::atoi(v));
  for (const char* var : {"PMIX_RANK", "PMI_RANK"})
    if (std::getenv(var)) return 1;  // a launcher that does not say the size
  return 0;
}

}  // namespace

void SingleProcessCommunicator::abort_all(int code) { std::exit(code); }

void agree_on_error(std::exception_ptr error, Communicator& comm) {
  if (comm.size() == 1) {
    if (error) std::rethrow_exception(error);
    return;
  }
  std::string mine;
  if (error) {
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {
      mine = e.what();
    } catch (...) {
      mine = "unknown error";
    }
    if (mine.empty()) mine = "error";
  }
  const std::string first = comm.first_error(mine);
  if (!first.empty()) throw ParallelError(first);
}

ParallelSession::ParallelSession(int* argc, char*** argv)
    : comm_(std::make_unique<SingleProcessCommunicator>()) {
  const int size = launcher_size();
  if (size == 0) return;
  if (!mpi_compiled()) {
    if (size > 1)
      throw Error("started by an MPI launcher with " + std::to_string(size) +
                  " ranks, but qtraj was built without MPI (configure with -DQTRAJ_BUILD_MPI=ON)");
    return;
  }
  comm_ = start_mpi(argc, argv);
  started_mpi_ = true;
}

ParallelSession::~ParallelSession() {
  if (!started_mpi_) return;
  comm_.reset();
  finish_mpi();
}

}  // namespace qtraj::backend
