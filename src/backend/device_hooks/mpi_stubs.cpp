// Compiled only when QTRAJ_BUILD_MPI=OFF: the MPI entry points of communicator.hpp.
#include "qtraj/backend/communicator.hpp"

namespace qtraj::backend {

bool mpi_compiled() { return false; }
std::unique_ptr<Communicator> start_mpi(int*, char***) {
  throw Error("MPI: qtraj was built without MPI (configure with -DQTRAJ_BUILD_MPI=ON)");
}
void finish_mpi() {}

}  // namespace qtraj::backend
