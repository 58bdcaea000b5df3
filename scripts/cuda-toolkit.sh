#!/usr/bin/env bash
# Provisions the CUDA toolkit that qtraj is compiled with, from the one pinned list that the
# container image uses too (docker/cuda-wheels.txt: NVIDIA's CUDA 13.0 wheels on PyPI), so that
# CI's CUDA compile (scripts/test.sh) sees exactly the headers the image's build stage sees: a
# source that includes a header the image lacks fails in CI, without building the image.
#
#   scripts/cuda-toolkit.sh                the compile toolkit in the cache (below); prints nvcc's
#                                          path (stdout; progress goes to stderr)
#   scripts/cuda-toolkit.sh --prefix DIR   the compile toolkit into DIR (docker/Dockerfile's build
#                                          stage: /usr/local/cuda); prints nvcc's path
#   scripts/cuda-toolkit.sh --runtime DIR  the libraries qtraj dlopens and, in turn, every library
#                                          they need, into DIR (the image's runtime stage)
#   scripts/cuda-toolkit.sh --dlopen       prints the sonames qtraj dlopens, one a line
#   --cuda 12                              (before the others) the CUDA 12.4 variant instead, from
#                                          docker/cuda12-debs.txt (Debian's packages): only in an
#                                          image's build stage, as it unpacks into /usr (--prefix
#                                          is then ignored)
#
# The compile toolkit is nvcc with its parts, cudart and CCCL (the 'compiler' wheels, whole) and
# the include/ folders of the 'headers' wheels (cuRAND, cuBLAS, cuSOLVER): qtraj links cudart
# only and dlopens cuBLAS and cuSOLVER, so their ~900 MB of libraries are left out of it. The
# cache, ${QTRAJ_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/qtraj}/cuda-toolkit-<key>, is keyed by a
# hash of the pin list and this script: a second run with the same pins downloads nothing; a
# run with new pins replaces it. pip downloads the wheels as this machine's pip is set up to
# (PIP_INDEX_URL, pip.conf, its CA bundle), with no pip cache: the cuBLAS wheel alone is 420 MB,
# and only its headers are kept.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
say() { echo "cuda-toolkit: $*" >&2; }
die() { echo "cuda-toolkit: ERROR: $*" >&2; exit 1; }
scratch=""  # a temporary folder, removed on exit
trap '[ -z "$scratch" ] || rm -rf "$scratch"' EXIT

cuda=13
if [ "${1:-}" = --cuda ]; then cuda="${2:-}"; shift 2 || die "--cuda needs 12 or 13"; fi
mode=cache dest=""
case "${1:-}" in
  "") ;;
  --prefix|--runtime) mode="${1#--}"; dest="${2:-}"; [ -n "$dest" ] || die "$1 needs a folder" ;;
  --dlopen) mode=dlopen ;;
  *) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
esac
case "$cuda" in
  13) pins="${QTRAJ_CUDA_PINS:-$here/docker/cuda-wheels.txt}" ;;
  12) pins="${QTRAJ_CUDA_PINS:-$here/docker/cuda12-debs.txt}" ;;
  *) die "--cuda $cuda: 13 (NVIDIA's wheels) or 12 (Debian's CUDA 12.4)" ;;
esac
[ -f "$pins" ] || die "pin list $pins not found"

# entries ROLE: the pin lines (without comment) whose words after '#' include ROLE.
entries() {
  awk -v role="$1" '/^[[:space:]]*(#|$)/ { next }
    { split($0, part, "#"); n = split(part[2], w, /[[:space:]]+/)
      for (i = 1; i <= n; i++) if (w[i] == role) { sub(/[[:space:]]+$/, "", part[1]); print part[1]; break } }' "$pins"
}
dlopen_sonames() { grep -v '^[[:space:]]*#' "$pins" | grep -o 'dlopen=[^[:space:]]*' | cut -d= -f2; }

# --- NVIDIA's wheels (CUDA 13) ---------------------------------------------------------------------
pip_cmd() {
  local py
  for py in python3 /usr/bin/python3; do
    if "$py" -m pip --version >/dev/null 2>&1; then echo "$py"; return; fi
  done
  die "no pip (python3 -m pip): install python3-pip"
}

# download_wheels DIR ROLE...: the wheels of the pin lines with any of ROLEs, into DIR.
download_wheels() {
  local dir="$1" role; shift
  mkdir -p "$dir"
  for role in "$@"; do entries "$role"; done | sort -u >"$dir/requirements.txt"
  local py t0=$SECONDS
  py="$(pip_cmd)"
  say "downloading $(wc -l <"$dir/requirements.txt") wheels ($*) from $pins"
  "$py" -m pip download --quiet --no-deps --only-binary=:all: --no-cache-dir \
    --disable-pip-version-check -d "$dir" -r "$dir/requirements.txt" >&2 \
    || die "pip download failed (the wheels of $pins)"
  say "downloaded $(du -sm "$dir" | cut -f1) MB in $((SECONDS - t0)) s"
}

# extract_wheels WHEEL_DIR DEST: each wheel's nvidia/<sub>/ tree into DEST, whole for a 'compiler'
# wheel, include/ only for a 'headers' one, lib/*.so* only for a 'runtime' one (ROLE_OF below);
# executable bits kept (zipfile drops them).
extract_wheels() {
  "$(pip_cmd)" - "$1" "$2" "$pins" <<'PY'
import os, re, sys, zipfile
wheels, dest, pins = sys.argv[1:4]
def norm(name): return re.sub(r"[-_.]+", "-", name).lower()
roles = {}
for line in open(pins):
    req, _, comment = line.partition("#")
    if not req.strip(): continue
    roles[norm(req.split("==")[0].strip())] = comment.split()
want = os.environ["ROLE_OF"]   # compiler+headers, or runtime
for f in sorted(os.listdir(wheels)):
    if not f.endswith(".whl"): continue
    name = norm(f.split("-")[0])
    r = roles.get(name, [])
    take_all = want == "compile" and "compiler" in r
    take_inc = want == "compile" and "headers" in r
    take_lib = want == "runtime" and "runtime" in r
    if not (take_all or take_inc or take_lib): continue
    with zipfile.ZipFile(os.path.join(wheels, f)) as z:
        for info in z.infolist():
            parts = info.filename.split("/")
            if len(parts) < 3 or parts[0] != "nvidia" or info.is_dir(): continue
            rel = "/".join(parts[2:])
            if rel.endswith("__init__.py") or "__pycache__" in rel: continue
            if not (take_all or (take_inc and rel.startswith("include/"))
                    or (take_lib and rel.startswith("lib/") and ".so" in rel)):
                continue
            out = os.path.join(dest, rel)
            os.makedirs(os.path.dirname(out), exist_ok=True)
            with z.open(info) as src, open(out, "wb") as dst:
                while chunk := src.read(1 << 20): dst.write(chunk)
            mode = (info.external_attr >> 16) & 0o777
            os.chmod(out, mode if mode else 0o644)
PY
}

# The toolkit installer's layout, which nvcc.profile and CMake's FindCUDAToolkit expect:
# targets/x86_64-linux/{include,lib}, lib64, unversioned .so links.
lay_out() {
  local top="$1" f
  mkdir -p "$top/targets/x86_64-linux"
  ln -sfn ../../include "$top/targets/x86_64-linux/include"
  ln -sfn ../../lib "$top/targets/x86_64-linux/lib"
  ln -sfn lib "$top/lib64"
  for f in "$top"/lib/lib*.so.*; do
    [ -e "$f" ] || continue
    ln -sf "$(basename "$f")" "${f%%.so.*}.so"
  done
}

wheels_toolkit() {  # DEST: the compile toolkit, built in a temporary folder next to DEST
  local final="$1" tmp
  mkdir -p "$(dirname "$final")"
  tmp="$(mktemp -d "$(dirname "$final")/.cuda-toolkit.XXXXXX")"
  scratch="$tmp"
  download_wheels "$tmp/wheels" compiler headers
  ROLE_OF=compile extract_wheels "$tmp/wheels" "$tmp/top"
  rm -rf "$tmp/wheels"
  lay_out "$tmp/top"
  "$tmp/top/bin/nvcc" --version >/dev/null || die "the provisioned nvcc does not run"
  # Every dlopen= library's header is there (the list and the sources agree).
  local h
  for h in cublas_api.h cusolverDn.h curand_kernel.h cub/cub.cuh; do
    [ -f "$tmp/top/include/$h" ] || [ -f "$tmp/top/include/cccl/$h" ] \
      || die "the toolkit from $pins lacks $h"
  done
  rm -rf "$final"
  mv "$tmp/top" "$final"
  say "CUDA $(nvcc_release "$final/bin/nvcc") toolkit in $final ($(du -sm "$final" | cut -f1) MB)"
}

nvcc_release() { "$1" --version | sed -n 's/.*release \([0-9.]*\).*/\1/p'; }

# runtime_closure STAGE DEST: the dlopen= libraries found in STAGE and every library they need
# that STAGE has, copied into DEST; a needed library that is neither in STAGE nor the system's
# fails.
runtime_closure() {
  local stage="$1" out="$2" todo lib need
  mkdir -p "$out"
  todo="$(dlopen_sonames)"
  [ -n "$todo" ] || die "$pins names no dlopen= library"
  declare -A seen=()
  while [ -n "$todo" ]; do
    set -- $todo; lib="$1"; shift; todo="$*"
    [ -n "${seen[$lib]:-}" ] && continue
    seen[$lib]=1
    [ -e "$stage/$lib" ] || die "$lib: not in the runtime packages of $pins"
    cp -L "$stage/$lib" "$out/$lib"
    for need in $(readelf -d "$out/$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
      if [ -e "$stage/$need" ]; then todo="$todo $need"; fi
    done
  done
  local missing
  missing="$(LD_LIBRARY_PATH="$out" ldd "$out"/* | grep 'not found' || true)"
  [ -z "$missing" ] || die "the runtime libraries need what is not there: $missing"
  say "runtime libraries in $out: $(cd "$out" && ls | tr '\n' ' ')($(du -sm "$out" | cut -f1) MB)"
}

wheels_runtime() {  # DEST
  local tmp
  tmp="$(mktemp -d)"
  scratch="$tmp"
  download_wheels "$tmp/wheels" runtime
  ROLE_OF=runtime extract_wheels "$tmp/wheels" "$tmp/top"
  runtime_closure "$tmp/top/lib" "$1"
}

# --- Debian's packages (CUDA 12) ------------------------------------------------------------------
# The .debs of the pin lines with ROLE, downloaded with apt-get from this system's Debian mirror
# with the suites and components the list names (its own apt state: the system's is untouched).
download_debs() {
  local dir="$1" role="$2" mirror apt
  mirror="$( { cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null || true; } \
    | { grep -v '^\s*#' || true; } | { grep -oE 'https?://[^ ]+/debian/?( |$)' || true; } \
    | head -n 1 | tr -d ' ')"
  mirror="${mirror%/}"; mirror="${mirror:-http://deb.debian.org/debian}"
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial"
  awk '!/^[[:space:]]*(#|$)/ { print "deb '"$mirror"' " $1 " " $2 }' "$pins" | sort -u \
    >"$dir/sources.list"
  apt=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
       -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o APT::Sandbox::User=root)
  apt-get "${apt[@]}" update >&2 || die "apt-get update ($dir/sources.list)"
  local pkgs
  mapfile -t pkgs < <(entries "$role" | awk '{ print $3 }')
  (cd "$dir" && apt-get "${apt[@]}" download "${pkgs[@]}" >&2) \
    || die "apt-get download ($role packages of $pins)"
}

debs_toolkit() {
  # Debian's nvcc.profile and paths are absolute (/usr, /etc): it is unpacked where it belongs,
  # which only an image's build stage may do (docker/Dockerfile sets QTRAJ_CUDA12_INTO_USR=1).
  [ "${QTRAJ_CUDA12_INTO_USR:-0}" = 1 ] && [ "$(id -u)" -eq 0 ] \
    || die "--cuda 12 unpacks Debian's CUDA 12.4 into /usr: only in an image's build stage, as root"
  local tmp deb
  tmp="$(mktemp -d)"
  scratch="$tmp"
  download_debs "$tmp/compiler" compiler
  for deb in "$tmp"/compiler/*.deb; do dpkg-deb -x "$deb" /; done
  download_debs "$tmp/headers" headers
  for deb in "$tmp"/headers/*.deb; do
    dpkg-deb --fsys-tarfile "$deb" | tar -x -C / --wildcards './usr/include/*' \
      './usr/lib/x86_64-linux-gnu/libcudart_static.a' './usr/lib/x86_64-linux-gnu/libcudadevrt.a' \
      './usr/lib/x86_64-linux-gnu/libculibos.a' './usr/lib/x86_64-linux-gnu/libcudart.so' \
      2>/dev/null || true
  done
  local h
  for h in cublas_api.h cusolverDn.h curand_kernel.h cub/cub.cuh; do
    [ -f "/usr/include/$h" ] || die "Debian's CUDA 12 from $pins lacks $h"
  done
  /usr/bin/nvcc --version >/dev/null || die "Debian's nvcc does not run"
  say "CUDA $(nvcc_release /usr/bin/nvcc) toolkit (Debian's) in /usr"
}

debs_runtime() {  # DEST
  local tmp deb
  tmp="$(mktemp -d)"
  scratch="$tmp"
  download_debs "$tmp/runtime" runtime
  mkdir -p "$tmp/root"
  for deb in "$tmp"/runtime/*.deb; do dpkg-deb -x "$deb" "$tmp/root"; done
  runtime_closure "$tmp/root/usr/lib/x86_64-linux-gnu" "$1"
}

# --- main --------------------------------------------------------------------------------------------
case "$mode:$cuda" in
  dlopen:*) dlopen_sonames ;;
  runtime:13) wheels_runtime "$dest" ;;
  runtime:12) debs_runtime "$dest" ;;
  prefix:13)
    wheels_toolkit "$dest"
    echo "$(cd "$dest" && pwd)/bin/nvcc" ;;
  prefix:12)
    debs_toolkit
    echo /usr/bin/nvcc ;;
  cache:12) die "--cuda 12 provisions only an image's build stage (--prefix)" ;;
  cache:13)
    cache="${QTRAJ_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/qtraj}"
    key="$(cat "$pins" "${BASH_SOURCE[0]}" | sha256sum | cut -c1-12)"
    top="$cache/cuda-toolkit-$key"
    if [ -x "$top/bin/nvcc" ]; then
      say "cached: $top (key $key from $(basename "$pins") and this script)"
    else
      wheels_toolkit "$top"
      # Earlier toolkits (other pins): not used again.
      for old in "$cache"/cuda-toolkit-*; do
        [ "$old" = "$top" ] || rm -rf "$old"
      done
    fi
    echo "$top/bin/nvcc" ;;
esac
