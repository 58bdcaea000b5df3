#!/usr/bin/env bash
# Installs qtraj's build and test dependencies from Debian's packages.
# Used by the README's set-up commands and by .ci/run. Idempotent.
#   libhdf5-dev hdf5-tools   HDF5 output (C API) and h5dump for inspecting it
#   libtomlplusplus-dev      TOML run files (toml++: header-only, good errors with line numbers)
#   libcli11-dev             the `qtraj` command line (sub-commands, --help everywhere)
#   libfmt-dev               formatting of messages and progress lines
#   libeigen3-dev            dense symmetric eigensolvers for the per-sector generators
#   libopenblas-dev liblapacke-dev   LAPACK dsyevd (OpenBLAS) for the steady solver's sectors, ~4x Eigen's
#                            and CBLAS for the exact solver's per-sector products, ~5x Eigen's
#   librandom123-dev         Philox4x32 counter-based RNG on the CPU (same stream as cuRAND's Philox)
#   libgtest-dev libbenchmark-dev   unit tests and micro-benchmarks
#   libopenmpi-dev openmpi-bin     optional MPI ranks (mpirun -n R qtraj run; QTRAJ_BUILD_MPI is
#                            on when CMake finds MPI, and the build works without it)
#   python3-qutip python3-h5py python3-matplotlib python3-numpy
#                            reference values (scripts/reference), benchmarks against QuTiP, plots
#   python3-venv python3-dev the Python module `import qtraj` (scripts/test.sh's venv, pip install .)
#   podman buildah debootstrap   build and check the container image (scripts/docker-check.sh)
#   ccache                   compiler cache: scripts/test.sh's CPU, TSan and CUDA builds share it
#   clang libclang-rt-dev    libFuzzer (clang's runtime) for the fuzz targets of the readers
#                            (scripts/fuzz.sh, tests/fuzz/README.md)
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config
      libhdf5-dev hdf5-tools libtomlplusplus-dev libcli11-dev libfmt-dev libeigen3-dev
      libopenblas-dev liblapacke-dev
      librandom123-dev libgtest-dev libbenchmark-dev libopenmpi-dev openmpi-bin
      python3 python3-numpy python3-h5py python3-matplotlib python3-qutip
      python3-venv python3-dev
      podman buildah debootstrap ccache clang libclang-rt-dev)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -eq 0 ]; then echo "install-deps: all packages present"; exit 0; fi
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}"; then
  $SUDO apt-get update
  $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
fi
