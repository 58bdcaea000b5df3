// The Open MPI communicator (include/qtraj/backend/communicator.hpp): MPI_COMM_WORLD. Compiled
// only with QTRAJ_BUILD_MPI; a build without MPI links src/backend/device_hooks/mpi_stubs.cpp.
//
// Only the main thread calls MPI (MPI_THREAD_FUNNELED): the worker threads never do.
// The C API only: no deprecated C++ bindings (they also warn under -Wextra).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>

#include "qtraj/backend/communicator.hpp"

namespace qtraj::backend {
namespace {

void check(int status, const char* what) {
  if (status != MPI_SUCCESS) {
    char text[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(status, text, &len);
    throw Error(std::string("MPI: ") + what + " failed: " + std::string(text, len));
  }
}

constexpr int kTagSize = 1, kTagBytes = 2;
constexpr std::int64_t kPiece = 1 << 30;  // messages of at most 1 GiB (MPI counts are int)

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank_), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size_), "MPI_Comm_size");
    MPI_Comm node;
    check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node),
          "MPI_Comm_split_type");
    check(MPI_Comm_rank(node, &local_rank_), "MPI_Comm_rank (node)");
    MPI_Comm_free(&node);
  }
  int rank() const override { return rank_; }
  int size() const override { return size_; }
  int local_rank() const override { return local_rank_; }

  std::string first_error(const std::string& my_error) override {
    const int mine = my_error.empty() ? size_ : rank_;
    int first = size_;
    check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
    if (first == size_) return "";
    int len = rank_ == first ? static_cast<int>(std::min<std::size_t>(my_error.size(), 4096)) : 0;
    check(MPI_Bcast(&len, 1, MPI_INT, first, MPI_COMM_WORLD), "MPI_Bcast");
    std::string text(rank_ == first ? my_error.substr(0, len) : std::string(len, ' '));
    check(MPI_Bcast(text.data(), len, MPI_CHAR, first, MPI_COMM_WORLD), "MPI_Bcast");
    return text;
  }

  void gather_to_root(const std::vector<char>& bytes,
                      const std::function<void(int, const std::vector<char>&)>& consume) override {
    if (rank_ != 0) {
      const auto n = static_cast<std::int64_t>(bytes.size());
      check(MPI_Send(&n, 1, MPI_INT64_T, 0, kTagSize, MPI_COMM_WORLD), "MPI_Send");
      for (std::int64_t at = 0; at < n; at += kPiece)
        check(MPI_Send(bytes.data() + at, static_cast<int>(std::min(kPiece, n - at)), MPI_BYTE, 0,
                       kTagBytes, MPI_COMM_WORLD),
              "MPI_Send");
      return;
    }
    consume(0, bytes);
    std::vector<char> other;
    for (int r = 1; r < size_; ++r) {  // rank order: the caller merges in a fixed order
      std::int64_t n = 0;
      check(MPI_Recv(&n, 1, MPI_INT64_T, r, kTagSize, MPI_COMM_WORLD, MPI_STATUS_IGNORE), "MPI_Recv");
      other.resize(n);
      for (std::int64_t at = 0; at < n; at += kPiece)
        check(MPI_Recv(other.data() + at, static_cast<int>(std::min(kPiece, n - at)), MPI_BYTE, r,
                       kTagBytes, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
              "MPI_Recv");
      consume(r, other);
    }
  }

  [[noreturn]] void abort_all(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::exit(code);  // not reached
  }

 private:
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

}  // namespace

bool mpi_compiled() { return true; }

std::unique_ptr<Communicator> start_mpi(int* argc, char*** argv) {
  int provided = 0;
  check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  // Errors come back as codes (check() turns them into one-line exceptions), not as aborts.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  return std::make_unique<MpiCommunicator>();
}

void finish_mpi() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

}  // namespace qtraj::backend
