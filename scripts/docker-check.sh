#!/usr/bin/env bash
# Builds the container image (docker/Dockerfile) with Podman and checks it: `qtraj demo` and a
# short trajectory run inside the image write HDF5 results that `qtraj info` reads, and both
# give the same /time and /jz_over_n as the qtraj built outside (build/qtraj), bit for bit. The
# CUDA image is checked further, without a GPU: `backend = "cuda"` (trajectories and the exact
# solver) is refused in one line naming the missing driver, and every library qtraj dlopens is
# there and loads (ldd -r inside the image), with no other CUDA file. Each image must stay within
# its size budget. Called by scripts/test.sh (CI); runs on its own from the repository root too.
#
#   QTRAJ_SKIP_DOCKER=1     skip the check
#   QTRAJ_DOCKER_CUDA       auto (default): the CPU-only image (QTRAJ_CUDA=OFF), then the CUDA
#                           image when its inputs (kernels/, docker/, the CMake files,
#                           scripts/cuda-toolkit.sh) changed since the last CUDA image that passed
#                           here (a stamp in ~/.cache/qtraj/) and its expected build time fits
#                           QTRAJ_DOCKER_CUDA_BUDGET_S (docker/README.md: why a cold build does not)
#                           ON: the CUDA image, always (not the CPU one); OFF: the CPU one only
#   QTRAJ_DOCKER_CUDA_VERSION  13 (default) or 12: the CUDA image's CUDA (build argument CUDA)
#   QTRAJ_DOCKER_CUDA_BUDGET_S seconds auto may spend building the CUDA image (default 900)
#   QTRAJ_DOCKER_CUDA_COLD_S   what auto expects a cold CUDA image build to take (default 2650,
#                           measured: docker/README.md)
#   QTRAJ_DOCKER_MAX_MB     the image's size budget in MB (defaults: size_budget_mb below)
#   QTRAJ_DOCKER_TAG        image tag (default qtraj:cpu; the CUDA image qtraj:latest, or
#                           qtraj:cuda12 for CUDA 12)
#   QTRAJ_DOCKER_BASE       base image (default debian:bookworm-slim; when absent it is built
#                           with debootstrap from this machine's Debian mirror and imported)
#   QTRAJ_BIN               the qtraj built outside (default build/qtraj)
#   QTRAJ_DOCKER_NO_CACHE=1 build without Podman's layer cache (what a fresh CI machine does)
#   QTRAJ_CUDA_ARCHITECTURES  the CUDA image's build argument CUDA_ARCHITECTURES
#
# Podman runs here as root with `podman build --isolation chroot`; `podman run` cannot set
# rlimits on these machines, so commands run inside the image with `buildah run --isolation
# chroot`. Apt inside the build uses the base image's sources (the stand-in gets this machine's
# Debian sources); pip uses this machine's index (PIP_INDEX_URL / pip config) and CA bundle.
set -euo pipefail
cd "$(dirname "$0")/.."

skip() { echo "docker-check: SKIPPED: $*" >&2; exit 0; }
fail() { echo "docker-check: FAILED: $*" >&2; exit 1; }
say() { echo "docker-check: $*" >&2; }

[ "${QTRAJ_SKIP_DOCKER:-0}" = 1 ] && skip "QTRAJ_SKIP_DOCKER=1"
[ "$(id -u)" -eq 0 ] || skip "needs root (podman build --isolation chroot)"
for tool in podman buildah; do
  command -v "$tool" >/dev/null || skip "$tool not installed (scripts/install-deps.sh installs it)"
done
podman info >/dev/null 2>&1 || skip "podman cannot work here: $(podman info 2>&1 | tail -n 1)"

mode=${QTRAJ_DOCKER_CUDA:-auto}
case "$mode" in ON|OFF|auto) ;; *) fail "QTRAJ_DOCKER_CUDA=$mode (auto, ON or OFF)";; esac
cuda_version=${QTRAJ_DOCKER_CUDA_VERSION:-13}
case "$cuda_version" in 12|13) ;; *) fail "QTRAJ_DOCKER_CUDA_VERSION=$cuda_version (13 or 12)";; esac
budget_s=${QTRAJ_DOCKER_CUDA_BUDGET_S:-900}
base=${QTRAJ_DOCKER_BASE:-debian:bookworm-slim}
qtraj_out=${QTRAJ_BIN:-build/qtraj}
[ -x "$qtraj_out" ] || fail "$qtraj_out not found (build qtraj first, or set QTRAJ_BIN)"
command -v h5dump >/dev/null || fail "h5dump not found (hdf5-tools)"
command -v readelf >/dev/null || fail "readelf not found (binutils)"
# Debian's python3 (h5py, numpy from scripts/install-deps.sh), not one earlier on PATH.
python=/usr/bin/python3; [ -x "$python" ] || python=python3
"$python" -c 'import h5py, numpy' 2>/dev/null || fail "$python lacks h5py/numpy (python3-h5py)"
stamps="${QTRAJ_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qtraj}"

work=$(mktemp -d /tmp/qtraj-docker-check.XXXXXX)
ctr=""
cleanup() {
  [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

# --- the base image: debian:bookworm-slim, or a stand-in made with debootstrap ---------------
# This machine's Debian mirror: the first http(s) URI of its apt sources naming .../debian.
debian_sources() {
  cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null || true
}
mirror=$(debian_sources | grep -v '^\s*#' | grep -oE 'https?://[^ ]+/debian/?( |$)' | head -n 1 | tr -d ' ')
mirror=${mirror%/}
if ! podman image exists "$base"; then
  [ "$base" = debian:bookworm-slim ] || fail "base image $base not found"
  command -v debootstrap >/dev/null || skip "no $base image and no debootstrap to build one"
  [ -n "$mirror" ] || fail "no Debian mirror found in /etc/apt/sources.list*"
  echo "docker-check: building the base $base with debootstrap from $mirror" >&2
  t0=$(date +%s)
  root="$work/rootfs"
  timeout 1200 debootstrap --variant=minbase bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap"; }
  # The Debian suites this machine uses (bookworm, -updates, -security), as the official
  # image has them; else debootstrap's one line.
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    cp /etc/apt/sources.list.d/debian.sources "$root/etc/apt/sources.list.d/debian.sources"
    rm -f "$root/etc/apt/sources.list"
  fi
  # What makes the official image "slim": no docs, man pages or locales from dpkg.
  cat >"$root/etc/dpkg/dpkg.cfg.d/docker" <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
EOF
  find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  rm -rf "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/var/cache/apt/archives/*.deb
  find "$root/usr/share/locale" -mindepth 1 -maxdepth 1 -not -name locale.alias -exec rm -rf {} +
  rm -rf "$root"/var/lib/apt/lists/*
  tar -C "$root" -c . | podman import --change 'CMD ["bash"]' - "$base" >/dev/null
  rm -rf "$root"
  echo "docker-check: base image built in $(( $(date +%s) - t0 )) s" >&2
fi

# --- the CUDA image's inputs and the stamp of the last one that passed --------------------------
# The hash of what the CUDA image's CUDA part is made from: kernels/, docker/ (not its README),
# the CMake files and the toolkit script (as they are in the working tree), the CUDA version and
# the architectures.
cuda_inputs_hash() {
  { git ls-files -co --exclude-standard -- kernels docker CMakeLists.txt cmake '*.cmake' \
      scripts/cuda-toolkit.sh ':!docker/*.md' 2>/dev/null | sort | while read -r f; do
      [ -f "$f" ] && sha256sum "$f"
    done
    echo "CUDA=$cuda_version CUDA_ARCHITECTURES=${QTRAJ_CUDA_ARCHITECTURES:-default}"
  } | sha256sum | cut -c1-16
}
stamp_file() { echo "$stamps/docker-cuda$cuda_version-passed-$1"; }

# --- pip's index and CA bundle, as this machine's pip uses them --------------------------------
pip_args=()
index=${PIP_INDEX_URL:-$(pip3 config get global.index-url 2>/dev/null || true)}
[ -n "$index" ] && pip_args+=(--build-arg "PIP_INDEX_URL=$index")
cert=${PIP_CERT:-$(pip3 config get global.cert 2>/dev/null || true)}
[ -z "$cert" ] && [ -s /etc/ssl/certs/ca-certificates.crt ] && cert=/etc/ssl/certs/ca-certificates.crt
[ -n "$cert" ] && pip_args+=(--secret "id=pip_cert,src=$cert")

# build_image CUDA(ON|OFF) TAG: builds TAG; sets build_s and size_mb.
build_image() {
  local cuda="$1" tag="$2" old_id new_id t0 args
  args=(--build-arg "BASE_IMAGE=$base" --build-arg "QTRAJ_CUDA=$cuda"
        --build-arg "CUDA=$cuda_version")
  [ "${QTRAJ_DOCKER_NO_CACHE:-0}" = 1 ] && args+=(--no-cache)
  if [ "$cuda" = ON ]; then
    args+=("${pip_args[@]}")
    [ -n "${QTRAJ_CUDA_ARCHITECTURES:-}" ] && args+=(--build-arg "CUDA_ARCHITECTURES=$QTRAJ_CUDA_ARCHITECTURES")
  fi
  old_id=$(podman image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
  say "building $tag (QTRAJ_CUDA=$cuda$([ "$cuda" = ON ] && echo ", CUDA $cuda_version")) from docker/Dockerfile"
  # The build's log, each line with the time it came (the steps' durations), kept in the stamp
  # folder: the last build of each variant.
  local log="$stamps/docker-build-cuda-$cuda-$cuda_version.log"
  mkdir -p "$stamps"
  t0=$(date +%s)
  timeout 3000 podman build --isolation chroot --pull=never -f docker/Dockerfile -t "$tag" \
    "${args[@]}" . 2>&1 | while IFS= read -r line; do printf '%(%T)T %s\n' -1 "$line"; done >"$log" \
    || { tail -n 40 "$log" >&2; fail "podman build $tag (log: $log)"; }
  build_s=$(( $(date +%s) - t0 ))
  new_id=$(podman image inspect --format '{{.Id}}' "$tag")
  # The previous build of this tag, now untagged: remove it (rebuildable, nothing else uses it).
  if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then podman rmi "$old_id" >/dev/null 2>&1 || true; fi
  # Earlier build stages of this variant (untagged, 0.7-1.5 GB each): keep the newest, the layer
  # cache of the next run, and remove the others.
  podman images --filter dangling=true --filter "label=qtraj.build-stage=cuda-$cuda-$cuda_version" \
    --sort created --format '{{.ID}}' | tail -n +2 | while read -r id; do
    podman rmi "$id" >/dev/null 2>&1 || true
  done
  size_mb=$(( $(podman image inspect --format '{{.Size}}' "$tag") / 1000000 ))
  say "$tag built in ${build_s} s, ${size_mb} MB"
}

# Size budgets (MB, Podman's uncompressed size; docker/README.md): the CPU image is mostly
# python3 + matplotlib; the CUDA one adds the CUDA libraries qtraj dlopens (~950 MB for CUDA 13).
size_budget_mb() {
  case "$1:$cuda_version" in
    OFF:*) echo "${QTRAJ_DOCKER_MAX_MB:-760}" ;;
    ON:13) echo "${QTRAJ_DOCKER_MAX_MB:-1750}" ;;
    ON:12) echo "${QTRAJ_DOCKER_MAX_MB:-1800}" ;;
  esac
}

# check_cuda_libraries MNT: the CUDA image's /usr/local/cuda/lib64 holds every library qtraj
# dlopens and, in turn, every one they need, each loadable (ldd -r inside the image), and nothing
# else; no other CUDA file is in the image.
check_cuda_libraries() {
  local mnt="$1" dir="$1/usr/local/cuda/lib64" so f need todo
  local -A reach=()
  todo=$(scripts/cuda-toolkit.sh --cuda "$cuda_version" --dlopen)
  [ -n "$todo" ] || fail "scripts/cuda-toolkit.sh names no dlopen library"
  for so in $todo; do
    [ -f "$dir/$so" ] || fail "the CUDA image lacks $so, which qtraj dlopens"
    inside sh -c "ldconfig -p | grep -q '$so '" || fail "$so: not in the image's loader cache"
  done
  while [ -n "$todo" ]; do
    set -- $todo; so="$1"; shift; todo="$*"
    [ -n "${reach[$so]:-}" ] && continue
    reach[$so]=1
    for need in $(readelf -d "$dir/$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      [ -f "$dir/$need" ] && todo="$todo $need"
    done
  done
  for f in "$dir"/*; do
    so=$(basename "$f")
    [ -n "${reach[$so]:-}" ] || fail "the CUDA image carries $so, which no library qtraj dlopens needs"
    inside ldd -r "/usr/local/cuda/lib64/$so" >"$work/ldd.txt" 2>&1 || true
    if grep -qE 'not found|undefined symbol' "$work/ldd.txt"; then
      cat "$work/ldd.txt" >&2; fail "$so does not load in the image"
    fi
  done
  local others
  others=$(cd "$mnt" && find . -xdev \( -name 'nvcc' -o -name 'cuda_runtime*.h' -o -name 'libcudart*' \
    -o -name 'libcublas*' -o -name 'libcusolver*' -o -name 'libcusparse*' -o -name 'libcufft*' \
    -o -name 'libcurand*' -o -name 'libnvJitLink*' -o -name 'libnvrtc*' -o -name 'libnvvm*' \) \
    -not -path './usr/local/cuda/lib64/*' | head -n 5)
  [ -z "$others" ] || fail "CUDA files outside /usr/local/cuda/lib64 in the image: $others"
  say "CUDA libraries: $(cd "$dir" && ls | tr '\n' ' ')($(du -sm "$dir" | cut -f1) MB), each loads (ldd -r)"
}

# check_image CUDA(ON|OFF) TAG: qtraj inside the image, then the same numbers outside.
check_image() {
  local cuda="$1" tag="$2"
  ctr=$(buildah from --pull-never "$tag")
  inside() { buildah run --isolation chroot --workingdir /work "$ctr" -- "$@"; }
  local mnt
  mnt=$(buildah mount "$ctr")

  inside qtraj --version
  inside qtraj demo -q || fail "qtraj demo inside the image"
  [ -s "$mnt/work/fig2a.h5" ] || fail "qtraj demo wrote no fig2a.h5"
  [ -s "$mnt/work/fig2a.png" ] || fail "qtraj demo wrote no fig2a.png"
  inside qtraj info fig2a.h5 >"$work/info_demo.txt" || fail "qtraj info on the demo result"
  grep -q 'solver *exact' "$work/info_demo.txt" || fail "qtraj info: not an exact result"

  # A short trajectory run (CPU backend, 2 threads): Fig. 2b's chain, 2000 trajectories.
  traj_set=(--set solver.trajectories=2000 --set solver.threads=2 --set time.points=41)
  inside qtraj run /opt/qtraj/examples/paper/fig2b-trajectories.toml -q "${traj_set[@]}" \
    -o traj.h5 || fail "trajectory run inside the image"
  inside qtraj info traj.h5 >"$work/info_traj.txt" || fail "qtraj info on the trajectory result"
  grep -q 'solver *trajectories' "$work/info_traj.txt" || fail "qtraj info: not a trajectory result"
  h5dump -d /jz_over_n/stderr "$mnt/work/traj.h5" >/dev/null || fail "traj.h5 lacks /jz_over_n/stderr"

  if [ "$cuda" = ON ]; then
    # backend = "cuda" without a GPU (no driver is mounted here): refused in one line that names
    # the missing driver, for the trajectory backend and for the exact solver's cuBLAS products.
    local kind out
    for kind in trajectories exact; do
      # (through sh: buildah adds a line of its own when a command fails)
      inside sh -c 'qtraj "$@" >cuda.txt 2>&1; echo $? >cuda.rc' sh run \
        /opt/qtraj/examples/paper/fig2b-trajectories.toml -q "${traj_set[@]}" \
        --set solver.kind="\"$kind\"" --set solver.backend='"cuda"' -o cuda.h5
      [ "$(cat "$mnt/work/cuda.rc")" != 0 ] \
        || fail "backend = cuda ($kind) ran in the image, where no driver is mounted"
      out=$(cat "$mnt/work/cuda.txt")
      [ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] \
        || { echo "$out" >&2; fail "backend = cuda ($kind): not a one-line refusal"; }
      case "$out" in
        *"no NVIDIA driver"*libcuda.so.1*) say "backend = cuda ($kind), no driver: $out" ;;
        *) fail "backend = cuda ($kind): the refusal does not name the missing driver: $out" ;;
      esac
    done
    check_cuda_libraries "$mnt"
  fi

  # --- the same numbers inside and outside --------------------------------------------------------
  "$qtraj_out" demo -q --no-plot -o "$work/fig2a_outside.h5"
  "$qtraj_out" run examples/paper/fig2b-trajectories.toml -q "${traj_set[@]}" \
    -o "$work/traj_outside.h5"
  cp "$mnt/work/fig2a.h5" "$work/fig2a_inside.h5"
  cp "$mnt/work/traj.h5" "$work/traj_inside.h5"
  buildah rm "$ctr" >/dev/null; ctr=""
  # Bit for bit is expected (same sources, same Debian compiler and libraries). A Debian point
  # release between this machine and the image may change the last bits: up to 1e-12 is then a
  # warning, more an error. `qtraj compare` (within 4 standard errors) must pass in any case.
  identical=1
  local pair verdict
  for pair in fig2a traj; do
    verdict=$(same_numbers "$work/${pair}_inside.h5" "$work/${pair}_outside.h5") \
      || fail "$pair: /jz_over_n inside the image differs from the qtraj built outside: $verdict"
    if [ "$verdict" != identical ]; then
      identical=0
      say "WARNING: $pair inside vs outside: $verdict (not bit for bit)"
    fi
    "$qtraj_out" compare "$work/${pair}_inside.h5" "$work/${pair}_outside.h5" >/dev/null \
      || fail "$pair: qtraj compare inside vs outside"
  done
  local budget
  budget=$(size_budget_mb "$cuda")
  [ "$size_mb" -le "$budget" ] || fail "$tag is $size_mb MB, over its budget of $budget MB (docker/README.md)"
  say "OK: $tag (build ${build_s} s, ${size_mb} MB of a $budget MB budget): demo and trajectories" \
      "inside give the same /jz_over_n as outside ($([ $identical = 1 ] && echo bit for bit || echo within 1e-12))"
}

same_numbers() {  # inside.h5 outside.h5 -> prints "identical" or the largest difference
  "$python" - "$1" "$2" <<'PY'
import sys, h5py, numpy as np
a, b = (h5py.File(p, "r") for p in sys.argv[1:3])
worst = 0.0
for ds in ("/time", "/jz_over_n/mean", "/jz_over_n/stderr"):
    x, y = a[ds][()], b[ds][()]
    if x.shape != y.shape:
        print(f"{ds}: shape {x.shape} vs {y.shape}"); sys.exit(1)
    if not np.array_equal(x, y):
        worst = max(worst, float(np.max(np.abs(x - y))))
print("identical" if worst == 0.0 else f"max |difference| {worst:.3g}")
sys.exit(0 if worst <= 1e-12 else 1)
PY
}

# check_cuda_image: builds and checks the CUDA image; on a pass, stamps its inputs.
check_cuda_image() {
  local tag hash
  if [ "$cuda_version" = 13 ]; then tag=${QTRAJ_DOCKER_TAG:-qtraj:latest}; else tag=${QTRAJ_DOCKER_TAG:-qtraj:cuda12}; fi
  hash=$(cuda_inputs_hash)
  build_image ON "$tag"
  check_image ON "$tag"
  mkdir -p "$stamps"
  rm -f "$stamps/docker-cuda$cuda_version-passed-"*
  echo "passed $(date -u +%FT%TZ) build_s=$build_s size_mb=$size_mb tag=$tag" >"$(stamp_file "$hash")"
  echo "$build_s" >"$stamps/docker-cuda$cuda_version-last-build-s"
}

# --- which images ---------------------------------------------------------------------------------
case "$mode" in
  OFF) build_image OFF "${QTRAJ_DOCKER_TAG:-qtraj:cpu}"; check_image OFF "${QTRAJ_DOCKER_TAG:-qtraj:cpu}" ;;
  ON) check_cuda_image ;;
  auto)
    build_image OFF qtraj:cpu
    check_image OFF qtraj:cpu
    hash=$(cuda_inputs_hash)
    if [ -f "$(stamp_file "$hash")" ]; then
      say "CUDA image: not rebuilt, its inputs are those of the image that passed here ($(cut -d' ' -f2 "$(stamp_file "$hash")"));" \
          "QTRAJ_DOCKER_CUDA=ON rebuilds it"
    else
      # Expected build time: the last CUDA build here when its layer cache (toolkit, libraries,
      # apt) is still here, else a cold build (measured: docker/README.md).
      cached=$(podman images -q --filter "label=qtraj.build-stage=cuda-ON-$cuda_version" | head -n 1)
      if [ -n "$cached" ] && [ -s "$stamps/docker-cuda$cuda_version-last-build-s" ]; then
        expect_s=$(cat "$stamps/docker-cuda$cuda_version-last-build-s"); how="with its layer cache"
      else
        expect_s=${QTRAJ_DOCKER_CUDA_COLD_S:-2650}; how="cold, no layer cache here"
      fi
      if [ "$expect_s" -le "$budget_s" ]; then
        say "CUDA image: inputs changed since the last image that passed here; building it ($how, ~${expect_s} s)"
        check_cuda_image
      else
        say "CUDA image: NOT CHECKED: inputs changed since the last image that passed here (or none" \
            "passed here), and its build ($how, ~${expect_s} s) exceeds QTRAJ_DOCKER_CUDA_BUDGET_S=$budget_s." \
            "The CUDA compile of scripts/test.sh used the image's toolkit (missing headers fail there);" \
            "QTRAJ_DOCKER_CUDA=ON scripts/docker-check.sh builds and checks the image"
      fi
    fi ;;
esac
