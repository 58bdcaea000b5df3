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
#                                 The container image's binary (gpu-bundle/image/, taken out of
#                                 the local image qtraj:latest by `bundle` where Podman has it):
#                                 its backend = "cuda" run and its exact solver on cuBLAS against
#                                 this machine's driver (image_binary_checks below); the image
#                                 itself runs only where this machine has a container runtime.
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
  bundle_image
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

# The container image's own binary (docker/Dockerfile: CUDA from docker/cuda-wheels.txt, cudart
# static) out of the local image $QTRAJ_GPU_IMAGE (default qtraj:latest), with the Debian
# libraries it links as the image resolves them, into gpu-bundle/image/. The image's CUDA
# libraries (~950 MB) and the image itself (~1.7 GB) cannot travel (64 MiB a device call): there,
# the binary dlopens that machine's cuBLAS and cuSOLVER of the same major versions.
bundle_image() {
  local image="${QTRAJ_GPU_IMAGE:-qtraj:latest}" ctr mnt lib real
  if ! command -v buildah >/dev/null || ! podman image exists "$image" 2>/dev/null; then
    echo "gpu-check bundle: no image $image here (QTRAJ_DOCKER_CUDA=ON scripts/docker-check.sh" \
         "builds it): the image's binary is not bundled"
    return 0
  fi
  ctr="$(buildah from --pull-never "$image")"
  mnt="$(buildah mount "$ctr")"
  mkdir -p "$bundle/image/bin" "$bundle/image/lib"
  cp "$mnt/usr/local/bin/qtraj" "$bundle/image/bin/"
  # ldd inside the image; each library copied from the image (links resolved there), by soname.
  buildah run --isolation chroot "$ctr" -- sh -c \
    'ldd /usr/local/bin/qtraj | awk "/=> \\// { print \$3 }" | while read -r l; do echo "$l $(readlink -f "$l")"; done' \
    | while read -r lib real; do
        is_glibc "$lib" && continue
        # The same file is in gpu-bundle/lib already (same Debian package): `run` finds it there.
        cmp -s "$mnt$real" "$bundle/lib/$(basename "$lib")" && continue
        cp "$mnt$real" "$bundle/image/lib/$(basename "$lib")"
      done
  buildah umount "$ctr" >/dev/null; buildah rm "$ctr" >/dev/null
  echo "$image $(podman image inspect --format '{{.Id}} {{.Created}}' "$image")" >"$bundle/image/IMAGE"
  scripts/cuda-toolkit.sh --dlopen >"$bundle/image/DLOPEN"
  # Everything over 1 MB travels gzipped (the binary too: ~6 MB of fatbin for two architectures).
  find "$bundle/image/bin" "$bundle/image/lib" -type f -size +1M -exec gzip -9 {} \;
  echo "gpu-bundle/image/: the binary of $image ($(du -sm "$bundle/image" | cut -f1) MB with" \
       "$(ls "$bundle/image/lib" | wc -l) libraries); it dlopens $(tr '\n' ' ' <"$bundle/image/DLOPEN")"
}

# expect_cuda_refusal LABEL OUTPUT COMMAND...: `COMMAND run` of a trajectory file with
# backend = "cuda" on a machine without a usable device must stop with one line and a non-zero
# exit status (not a timeout or a signal); anything else marks the check failed.
expect_cuda_refusal() {
  local label=$1 output=$2 out rc
  shift 2
  out="$(timeout 30 "$@" run "$bundle/run/fig2b-trajectories.toml" -q -o "$output" \
    --set 'solver.backend="cuda"' --set solver.trajectories=100 2>&1)"
  rc=$?
  echo "$out" >>"$log"
  if [ "$rc" -ne 0 ] && [ "$rc" -lt 124 ] && [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ]; then
    say "=== $label: refused cleanly (exit $rc): $out"
  else
    say "=== $label: NOT a clean refusal (exit $rc)"
    failed=1
  fi
}

# image_binary_checks NODEVICE WORK: the image's binary (bundle_image) against this machine's
# driver. Its libraries: the image's Debian ones from the bundle; cuBLAS and cuSOLVER (the sonames
# in image/DLOPEN) from this machine: $CUDA_HOME/lib64, /usr/local/cuda/lib64 or a CUDA wheel of
# python3's (nvidia/*/lib). Without a device: `backend = "cuda"` must be refused in one line that
# names the driver problem. With one: trajectories on the GPU against the exact solver (4 SE), the
# exact solver on cuBLAS against its CPU run (1e-10). Then the image itself, where this machine
# has a container runtime and an archive of the image ($QTRAJ_GPU_IMAGE_ARCHIVE).
image_binary_checks() {
  local nodevice="$1" work="$2" img="$bundle/image" dirs="" so dir py gz
  if [ ! -f "$img/bin/qtraj.gz" ] && [ ! -x "$img/bin/qtraj" ]; then
    say "image binary: not in gpu-bundle/ (no image where it was bundled): not checked"
    return 0
  fi
  say ""
  say "image binary: $(cat "$img/IMAGE")"
  # What travels gzipped, unpacked for this run: the binary into $work/image-bin, libraries
  # into $work/image-lib.
  local unpacked="$work/image-lib" exe="$work/image-bin/qtraj"
  mkdir -p "$unpacked" "$work/image-bin"
  for gz in "$img"/lib/*.gz; do
    [ -e "$gz" ] || continue
    gzip -dc "$gz" >"$unpacked/$(basename "${gz%.gz}")"
  done
  if [ -f "$img/bin/qtraj.gz" ]; then gzip -dc "$img/bin/qtraj.gz" >"$exe"; else cp "$img/bin/qtraj" "$exe"; fi
  chmod +x "$exe"
  local candidates=("${CUDA_HOME:-/usr/local/cuda}/lib64" /usr/local/cuda/lib64)
  for py in python3 /usr/bin/python3; do
    command -v "$py" >/dev/null 2>&1 || continue
    while read -r dir; do candidates+=("$dir"/*/lib); done < <("$py" -c \
      'import nvidia; print("\n".join(nvidia.__path__))' 2>/dev/null)
  done
  for so in $(cat "$img/DLOPEN"); do
    dir=""
    for d in "${candidates[@]}"; do [ -e "$d/$so" ] && { dir="$d"; break; }; done
    say "image binary: $so from ${dir:-nowhere on this machine (its feature is refused)}"
    [ -n "$dir" ] && dirs="$dirs:$dir"
  done
  local env_img=(env "LD_LIBRARY_PATH=$img/lib:$unpacked:$bundle/lib$dirs")
  step "image qtraj --version, ldd" 5 sh -c 'export LD_LIBRARY_PATH="$1"; "$2" --version && ldd "$2"' \
    sh "$img/lib:$unpacked:$bundle/lib$dirs" "$exe"
  if [ "$nodevice" -eq 1 ]; then
    expect_cuda_refusal "image binary, no device" "$work/image-cuda.h5" "${env_img[@]}" "$exe"
  else
    step "image qtraj run (trajectories, backend = cuda)" 25 "${env_img[@]}" "$exe" run \
      "$bundle/run/fig2b-trajectories.toml" -q -o "$work/image-cuda.h5" \
      --set 'solver.backend="cuda"' --set solver.trajectories=100000
    step "image qtraj compare cuda vs exact (4 SE)" 5 "$bundle/bin/qtraj" compare \
      "$work/image-cuda.h5" "$work/exact.h5" --threshold 4
    step "image qtraj run (exact, backend = cuda: cuBLAS)" 10 "${env_img[@]}" "$exe" run \
      "$bundle/run/fig2b-trajectories.toml" -q -o "$work/image-exact-cublas.h5" \
      --set solver.kind='"exact"' --set 'solver.backend="cuda"'
    step "image qtraj compare exact cuBLAS vs exact CPU" 5 "$bundle/bin/qtraj" compare \
      "$work/image-exact-cublas.h5" "$work/exact.h5" --abs-tol 1e-10
  fi
  # The image itself: only with a container runtime here (the GPU machines of our device notes
  # have none) and an archive of it on this machine (the ~1.7 GB image does not travel).
  local rt="" c
  for c in docker podman apptainer singularity; do command -v "$c" >/dev/null 2>&1 && rt="$rt $c"; done
  if [ -z "$rt" ]; then
    say "image itself: no container runtime here (docker, podman, apptainer, singularity): not run; its binary was"
  elif [ -z "${QTRAJ_GPU_IMAGE_ARCHIVE:-}" ] || [ ! -f "$QTRAJ_GPU_IMAGE_ARCHIVE" ]; then
    say "image itself: container runtime(s)$rt here, but no QTRAJ_GPU_IMAGE_ARCHIVE (podman save -o qtraj.tar qtraj:latest): not run"
  else
    local args=(run /opt/qtraj/examples/paper/fig2b-trajectories.toml -q -o /tmp/c.h5
                --set 'solver.backend="cuda"' --set solver.trajectories=100000)
    set -- $rt
    case "$1" in
      docker) step "image load" 120 docker load -i "$QTRAJ_GPU_IMAGE_ARCHIVE" &&
              step "image run (docker --gpus all)" 60 docker run --rm --gpus all qtraj:latest "${args[@]}" ;;
      podman) step "image load" 120 podman load -i "$QTRAJ_GPU_IMAGE_ARCHIVE" &&
              step "image run (podman, CDI)" 60 podman run --rm --device nvidia.com/gpu=all qtraj:latest "${args[@]}" ;;
      *) step "image build (.sif)" 240 "$1" build "$work/qtraj.sif" "docker-archive://$QTRAJ_GPU_IMAGE_ARCHIVE" &&
         step "image run ($1 --nv)" 60 "$1" run --nv "$work/qtraj.sif" "${args[@]}" ;;
    esac
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
    expect_cuda_refusal "bundle binary, no device" "${TMPDIR:-/tmp}/qtraj-gpu-check-$$.h5" \
      "$bundle/bin/qtraj"
    image_binary_checks 1 "$unpacked"
    say ""
    say "gpu-check: no CUDA device: GPU checks (memcheck, bench, cuda run) not run"
    echo "gpu-check: no CUDA device (log: $log)" >&2
    [ "$failed" -eq 0 ] && exit 3
    exit 1
  fi
  # Order: correctness first (a cut-off run still logs the most important checks), then the
  # benches, memcheck last. Per-step limits add up to 630 s (580 s before the image binary's 50 s:
  # one device call is 600 s, so a run that hit most limits would be cut during memcheck); typical < 5 min.
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
  image_binary_checks 0 "$work"
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
