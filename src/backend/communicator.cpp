// world(), the one-process communicator and ParallelSession (include/qtraj/backend/communicator.hpp).
#include "qtraj/backend/communicator.hpp"

#include <algorithm>
#include <cstdlib>
#include <iostream>

namespace qtraj::backend {
namespace {

/// One process: rank 0 of 1; collectives are local.
class SerialCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::string first_error(const std::string& my_error) override { return my_error; }
  void gather_to_root(const std::vector<char>& bytes,
                      const std::function<void(int, const std::vector<char>&)>& consume) override {
    consume(0, bytes);
  }
  [[noreturn]] void abort_all(int code) override { std::exit(code); }
};

std::unique_ptr<Communicator>& current() {
  static std::unique_ptr<Communicator> comm = std::make_unique<SerialCommunicator>();
  return comm;
}

/// The number of ranks an MPI launcher announced, 0 when not started by one.
int launcher_size() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_SIZE", "PMI_SIZE"})
    if (const char* v = std::getenv(var)) return std::max(1, std::atoi(v));
  for (const char* var : {"PMIX_RANK", "PMI_RANK"})
    if (std::getenv(var)) return 1;  // a launcher that does not say the size
  return 0;
}

bool session_started_mpi = false;

}  // namespace

Communicator& world() { return *current(); }

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

ParallelSession::ParallelSession(int* argc, char*** argv) {
  const int size = launcher_size();
  if (size == 0) return;
  if (!mpi_compiled()) {
    if (size > 1)
      throw Error("started by an MPI launcher with " + std::to_string(size) +
                  " ranks, but qtraj was built without MPI (configure with -DQTRAJ_BUILD_MPI=ON)");
    return;
  }
  current() = start_mpi(argc, argv);
  session_started_mpi = true;
}

ParallelSession::~ParallelSession() {
  if (!session_started_mpi) return;
  current() = std::make_unique<SerialCommunicator>();
  finish_mpi();
  session_started_mpi = false;
}

}  // namespace qtraj::backend
