#pragma once
// The processes of a run: MPI ranks when `qtraj` was started by mpirun/srun in a build with MPI
// (QTRAJ_BUILD_MPI), else just this process. Everything MPI-specific sits behind this small
// interface: src/backend/mpi_communicator.cpp implements it with Open MPI, a build without MPI
// links src/backend/device_hooks/mpi_stubs.cpp instead, and callers never #ifdef.
//
// Error contract: an error on some ranks must not leave the others waiting in a collective. Code
// between collectives catches its errors and calls agree_on_error(), which makes every rank
// throw ParallelError carrying the lowest failing rank's message (the CLI prints it once, on
// rank 0). Anything else escaping on a rank of a multi-rank run ends in abort_all(), which takes
// every rank down (MPI_Abort).
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "qtraj/error.hpp"

namespace qtraj::backend {

/// Thrown on every rank when agree_on_error() found an error on some rank.
class ParallelError : public Error {
 public:
  using Error::Error;
};

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// Rank among the processes on this node (0 .. ranks per node - 1): picks the GPU.
  virtual int local_rank() const = 0;
  /// Collective. Returns the message of the lowest rank whose `my_error` is not empty ("" if none).
  virtual std::string first_error(const std::string& my_error) = 0;
  /// Collective. Every rank sends `bytes`; rank 0 calls consume(r, bytes of rank r) for
  /// r = 0, 1, ..., size-1 in this order (one rank's bytes in memory at a time).
  virtual void gather_to_root(
      const std::vector<char>& bytes,
      const std::function<void(int rank, const std::vector<char>& bytes)>& consume) = 0;
  /// Ends every rank of the job with `code` (MPI_Abort); a single process just exits.
  [[noreturn]] virtual void abort_all(int code) = 0;
};

/// One process: rank 0 of 1; collectives are local. Stateless: one may serve any number of
/// solves at once.
class SingleProcessCommunicator final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  int local_rank() const override { return 0; }
  std::string first_error(const std::string& my_error) override { return my_error; }
  void gather_to_root(
      const std::vector<char>& bytes,
      const std::function<void(int rank, const std::vector<char>& bytes)>& consume) override {
    consume(0, bytes);
  }
  [[noreturn]] void abort_all(int code) override;
};

/// Collective. Rethrows `error` as is in a one-process run; in a multi-rank run, if any rank
/// passes an error, every rank throws ParallelError with the lowest failing rank's message.
void agree_on_error(std::exception_ptr error, Communicator& comm);

/// Lives for the whole of main() and owns the processes' communicator, comm(): when the process
/// was started by an MPI launcher (OMPI_COMM_WORLD_SIZE, PMIX_RANK or PMI_RANK in the
/// environment) it initialises MPI and comm() is MPI_COMM_WORLD, finalised on destruction;
/// otherwise comm() is a SingleProcessCommunicator and MPI is never touched. Throws Error when
/// started with several ranks by a build without MPI. The program passes comm() to the solvers
/// (SolveContext::comm); nothing reads it behind their back.
class ParallelSession {
 public:
  ParallelSession(int* argc, char*** argv);
  ~ParallelSession();
  ParallelSession(const ParallelSession&) = delete;
  ParallelSession& operator=(const ParallelSession&) = delete;
  Communicator& comm() { return *comm_; }

 private:
  std::unique_ptr<Communicator> comm_;
  bool started_mpi_ = false;
};

/// Implemented by src/backend/mpi_communicator.cpp (MPI builds) or the stub (others).
std::unique_ptr<Communicator> start_mpi(int* argc, char*** argv);
void finish_mpi();
/// True in builds with MPI.
bool mpi_compiled();

}  // namespace qtraj::backend
