// PLACEHOLDER: being written; replaced by the real solver before it is called done.
#include "qtraj/error.hpp"
#include "qtraj/solvers.hpp"
namespace qtraj {
Result solve_meanfield(const RunConfig&, const ProgressFn&) { throw Error("solver 'meanfield' is not implemented yet"); }
}  // namespace qtraj
