#!/usr/bin/env bash
# One command for every GPU check of qtraj (docs/cuda.md section 1), in two halves:
#
#   scripts/gpu-check.sh bundle   HERE (a development machine with the dependencies): builds the CUDA
#                                 build in Release (build-gpu/, or $QTRAJ_GPU_BUILD_DIR to reuse
#                                 one), copies qtraj, qtraj_cuda_tests, qtraj_cuda_bench, every
#                                 shared library `ldd` lists for them except
#                                 glibc's (libc, libm, libpthread, libdl, librt, ld-linux) and the
#                                 run files into gpu-bundle/ (git-ignored; must stay < 64 MiB:
#                                 libraries over 16 MB, i.e. OpenBLAS's 36 MB DYNAMIC_ARCH build,
#                                 travel gzipped and `run` unpacks them into a temporary folder).
#   scripts/gpu-check.sh run      THERE (a GPU machine with nvcc/cmake/ninja but no HDF5, toml++,
#                                 fmt, no network), from the repo root with gpu-bundle/ carried:
#                                 nvidia-smi, qtraj_cuda_tests, compute-sanitizer memcheck on a few
#                                 tests, qtraj_cuda_bench at 10^6 trajectories (CPU comparison with
#                                 --threads 16), a `qtraj run` with backend = "cuda" compared to the
#                                 exact solver with `qtraj compare`, the Krylov propagator's GPU
#                                 tests (CudaKrylov.*, also under memcheck) and its bench
#                                 (2000,200,20) GPU vs 16 CPU threads (qtraj_cuda_krylov_bench),
#                                 the exact solver on cuBLAS (CudaExactCublas.* in the tests; a
#                                 `qtraj run` with kind = exact, backend = cuda compared to the CPU
#                                 run; one (60,30,10) stage cuBLAS vs OpenBLAS, qtraj_cuda_exact_bench),
#                                 the sector-batched engine vs the per-block kernel
#                                 (qtraj_cuda_sector_batch_bench; its tests CudaSectorBatch.* run
#                                 in qtraj_cuda_tests).
#                                 One log: $OUT/gpu-check.log if
#                                 $OUT is set, else ./gpu-check.log. Each step has a timeout; the
#                                 whole run stays well under 5 minutes.
# Exit status of `run`: 0 all checks passed, 1 some check failed, 3 no CUDA device (reported in the
# log and on stderr; only the device-free checks ran).
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bundle="$here/gpu-bundle"

usage() { echo "usage: scripts/gpu-check.sh bundle|run" >&2; exit 2; }

is_glibc() {
  case "$(basename "$1")" in
    libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libresolv.so*|libutil.so*) return 0 ;;
    *) return 1 ;;
  esac
}

do_bundle() {
  set -e
  cd "$here"
  local build="${QTRAJ_GPU_BUILD_DIR:-build-gpu}"  # reuse an existing CUDA build dir if you have one
  # Without LAPACK(E): the steady solver then uses Eigen, and OpenBLAS (36 MB) stays out of the
  # bundle, which must carry in 64 MiB; no GPU check needs it.
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DQTRAJ_BUILD_CUDA=ON \
        -DQTRAJ_BUILD_BENCH=OFF -DQTRAJ_BUILD_TESTS=ON -DCMAKE_DISABLE_FIND_PACKAGE_LAPACK=ON >/dev/null
  cmake --build "$build" -j"$(nproc)" --target qtraj qtraj_cuda_tests qtraj_cuda_bench \
    qtraj_cuda_krylov_bench qtraj_cuda_setup_bench qtraj_cuda_exact_bench qtraj_cuda_sector_batch_bench
  rm -rf "$bundle"
  mkdir -p "$bundle/bin" "$bundle/lib" "$bundle/run"
  local exe
  for exe in qtraj qtraj_cuda_tests qtraj_cuda_bench qtraj_cuda_krylov_bench qtraj_cuda_setup_bench \
             qtraj_cuda_exact_bench qtraj_cuda_sector_batch_bench; do
    cp "$build/$exe" "$bundle/bin/"
    strip --strip-unneeded "$bundle/bin/$exe" 2>/dev/null || true
  done
  # Shared libraries, transitively (ldd lists them all), glibc's own left to the target machine.
  local lib
  ldd "$bundle"/bin/* | awk '/=> \// { print $3 }' | sort -u | while read -r lib; do
    is_glibc "$lib" && continue
    cp -L "$lib" "$bundle/lib/"
  done
  # The run files: the paper's Fig. 2b system by trajectories (run with backend = "cuda") and exactly.
  cp examples/paper/fig2b-trajectories.toml "$bundle/run/"
  git rev-parse HEAD > "$bundle/COMMIT" 2>/dev/null || echo unknown > "$bundle/COMMIT"
  (git status --porcelain --untracked-files=no | grep -q .) && echo "(with uncommitted changes)" >> "$bundle/COMMIT"
  # Check the libraries resolve from the bundle alone, and the size limit.
  if LD_LIBRARY_PATH="$bundle/lib" ldd "$bundle"/bin/* | grep -q "not found"; then
    echo "gpu-check bundle: unresolved libraries:" >&2
    LD_LIBRARY_PATH="$bundle/lib" ldd "$bundle"/bin/* | grep "not found" >&2
    exit 1
  fi
  # Libraries over 16 MB travel gzipped (OpenBLAS: 36 MB -> ~11 MB; checked above unpacked).
  local big
  find "$bundle/lib" -type f -size +16M | while read -r big; do gzip -9 "$big"; done
  local kib
  kib=$(du -sk "$bundle" | cut -f1)
  echo "gpu-bundle/: $((kib / 1024)) MiB ($(ls "$bundle/lib" | wc -l) libraries), commit $(head -1 "$bundle/COMMIT")"
  ls -la "$bundle/bin" "$bundle/lib"
  if [ "$kib" -ge $((64 * 1024)) ]; then
    echo "gpu-check bundle: gpu-bundle/ is $((kib / 1024)) MiB, over the 64 MiB a device call carries" >&2
    exit 1
  fi
}

do_run() {
  cd "$here"
  local log="${OUT:-$here}/gpu-check.log"
  mkdir -p "$(dirname "$log")"
  : > "$log"
  local failed=0 nodevice=0
  say() { echo "$*" | tee -a "$log"; }
  # step NAME TIMEOUT CMD...: runs CMD with a timeout, output into the log, records failure.
  step() {
    local name="$1" limit="$2"; shift 2
    say ""
    say "=== $name ($(date -u +%H:%M:%S), limit ${limit}s): $*"
    local t0=$SECONDS rc
    timeout "$limit" "$@" >>"$log" 2>&1
    rc=$?
    say "=== $name: exit $rc after $((SECONDS - t0)) s"
    [ "$rc" -eq 0 ] || failed=1
    return "$rc"
  }
  if [ ! -x "$bundle/bin/qtraj" ]; then
    say "gpu-check run: no gpu-bundle/ here (run 'scripts/gpu-check.sh bundle' on a development machine)"
    exit 1
  fi
  # The libraries that travel gzipped (see bundle), unpacked for this run only.
  local unpacked gz
  unpacked="$(mktemp -d "${TMPDIR:-/tmp}/qtraj-gpu-lib.XXXXXX")"
  trap 'rm -rf "$unpacked"' EXIT
  for gz in "$bundle"/lib/*.gz; do
    [ -e "$gz" ] || continue
    gzip -dc "$gz" > "$unpacked/$(basename "${gz%.gz}")"
  done
  export LD_LIBRARY_PATH="$bundle/lib:$unpacked${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # cuSOLVER (device set-up) and cuBLAS (the exact solver's products) are not in the bundle (~1 GB
  # and ~570 MB with their dependencies): they are dlopen'ed from this machine's CUDA toolkit
  # (kernels/eigensystems_cusolver.cu, kernels/dense_cublas.cu); say where they are.
  local cusolver cublas
  cusolver="$(ls "${CUDA_HOME:-/usr/local/cuda}"/lib64/libcusolver.so.* 2>/dev/null | head -1)"
  cublas="$(ls "${CUDA_HOME:-/usr/local/cuda}"/lib64/libcublas.so.* 2>/dev/null | head -1)"
  say "qtraj gpu-check, $(date -u), host $(hostname), bundle commit $(head -1 "$bundle/COMMIT")"
  say "cores: $(nproc)"
  say "cuSOLVER for the device set-up: ${cusolver:-not found under ${CUDA_HOME:-/usr/local/cuda}/lib64 (set-up stays on the host; the eigensystem tests skip)}"
  say "cuBLAS for the exact solver: ${cublas:-not found under ${CUDA_HOME:-/usr/local/cuda}/lib64 (backend = cuda refuses; the CudaExactCublas tests skip)}"
  if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >>"$log" 2>&1; then
    nodevice=1
    say "no CUDA device: nvidia-smi finds no GPU; only the device-free checks run"
  else
    step "nvidia-smi" 5 nvidia-smi
  fi
  # The CUDA test binary: its GPU tests skip themselves without a device; the kernel bodies, the
  # ensemble emulation and the no-device error path run either way.
  step "qtraj_cuda_tests" 120 "$bundle/bin/qtraj_cuda_tests" --gtest_brief=1
  if [ "$nodevice" -eq 1 ]; then
    say ""
    say "=== qtraj run with backend = cuda and no device: must refuse with one line, exit != 0"
    local out rc
    out="$(timeout 30 "$bundle/bin/qtraj" run "$bundle/run/fig2b-trajectories.toml" -q \
      -o "${TMPDIR:-/tmp}/qtraj-gpu-check-$$.h5" --set 'solver.backend="cuda"' \
      --set solver.trajectories=100 2>&1)"
    rc=$?
    echo "$out" >>"$log"
    if [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ]; then
      say "=== refused cleanly (exit $rc)"
    else
      say "=== NOT a clean refusal (exit $rc)"
      failed=1
    fi
    say ""
    say "gpu-check: no CUDA device: GPU checks (memcheck, bench, cuda run) not run"
    echo "gpu-check: no CUDA device (log: $log)" >&2
    [ "$failed" -eq 0 ] && exit 3
    exit 1
  fi
  # Order: correctness first (a cut-off run still logs the most important checks), then the
  # benches, memcheck last. Per-step limits add up to 580 s: one device call (600 s) with 20 s left for unpacking the bundle; typical < 5 min.
  local work="${TMPDIR:-/tmp}/qtraj-gpu-check.$$"
  mkdir -p "$work"
  step "qtraj run (exact)" 30 "$bundle/bin/qtraj" run "$bundle/run/fig2b-trajectories.toml" -q \
    -o "$work/exact.h5" --set solver.kind='"exact"'
  step "qtraj run (trajectories, backend = cuda)" 40 "$bundle/bin/qtraj" run \
    "$bundle/run/fig2b-trajectories.toml" -o "$work/cuda.h5" --set 'solver.backend="cuda"' \
    --set solver.trajectories=200000 --set solver.record_jumps=100
  step "qtraj compare cuda vs exact (4 SE)" 20 "$bundle/bin/qtraj" compare "$work/cuda.h5" \
    "$work/exact.h5" --threshold 4
  step "qtraj info" 10 "$bundle/bin/qtraj" info "$work/cuda.h5"
  # The exact solver with its products on cuBLAS, against the CPU run above.
  step "qtraj run (exact, backend = cuda: cuBLAS)" 15 "$bundle/bin/qtraj" run \
    "$bundle/run/fig2b-trajectories.toml" -q -o "$work/exact-cublas.h5" --set solver.kind='"exact"' \
    --set 'solver.backend="cuda"'
  step "qtraj compare exact cuBLAS vs exact CPU" 5 "$bundle/bin/qtraj" compare \
    "$work/exact-cublas.h5" "$work/exact.h5" --abs-tol 1e-10
  "$bundle/bin/qtraj" info "$work/exact-cublas.h5" 2>&1 | grep -i dense_kernels | tee -a "$log"
  step "qtraj_cuda_bench (10^6 trajectories; (400,40,4): 2x10^4; CPU backend with 16 threads)" 90 \
    "$bundle/bin/qtraj_cuda_bench" --trajectories 1000000 --cpu-trajectories 200000 --threads 16 \
    --big 20000
  # The trajectory kernels' registers, spills and occupancy on this GPU; then set-up of
  # (400,40,4) and (200,40,8): 16 host threads vs cuSOLVER, side by side (target < 1 s).
  step "qtraj_cuda_setup_bench (kernel resources; set-up: 16 host threads vs cuSOLVER)" 50 \
    "$bundle/bin/qtraj_cuda_setup_bench" --threads 16 --repeat 2
  # Krylov on (2000,200,20) to t = 300, GPU ensemble vs the CPU backend on 16 threads
  # (trajectories/s side by side; target >= 50x). Rows are printed as measured.
  step "qtraj_cuda_krylov_bench ((2000,200,20) Krylov: GPU vs CPU backend with 16 threads)" 90 \
    "$bundle/bin/qtraj_cuda_krylov_bench" --trajectories 1056 --cpu-trajectories 160 --threads 16 \
    --blocks 0,64
  # One implicit stage of (60,30,10), cuBLAS vs OpenBLAS on 16 threads.
  step "qtraj_cuda_exact_bench ((60,30,10) stage: cuBLAS vs OpenBLAS with 16 threads)" 30 \
    "$bundle/bin/qtraj_cuda_exact_bench" --threads 16 --repeat 5
  # The sector-batched engine vs the per-block kernel on the device, side by side
  # ((400,40,4) and (200,40,8), 2000 trajectories each; set-up on 16 host threads, not timed).
  step "qtraj_cuda_sector_batch_bench (sector-batched vs per-block on the device)" 25 \
    "$bundle/bin/qtraj_cuda_sector_batch_bench" --trajectories 2000 --threads 16
  local sanitizer
  sanitizer="$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null || true)"
  if [ -n "$sanitizer" ]; then
    step "compute-sanitizer memcheck" 50 "$sanitizer" --tool memcheck --error-exitcode 9 \
      "$bundle/bin/qtraj_cuda_tests" \
      --gtest_filter='CudaTrajectories.Spectral12_6_2*:CudaTrajectories.GlobalScratch*:CudaBlockTeam.*:CudaEnsemble.DeviceAggregation*:CudaEnsembleGroups.*:CudaEigensystems.Every*:CudaKrylov.BatchEquals*:CudaExactCublas.BasisTransfer*'
  else
    say "compute-sanitizer: not found, memcheck skipped"
  fi
  rm -rf "$work"
  say ""
  if [ "$failed" -eq 0 ]; then say "gpu-check: all checks passed"; else say "gpu-check: SOME CHECKS FAILED"; fi
  exit "$failed"
}

case "${1:-}" in
  bundle) do_bundle ;;
  run) do_run ;;
  *) usage ;;
esac
