#!/usr/bin/env bash
# Keeps the repository's comments and docs pointing at things that exist (no build needed, < 1 s):
#   1. no file cites a bare `design.md` (only docs/design.md; in docs/, a link "](design.md)") or
#      an absolute path of a development machine (/work/...): nothing outside the repository;
#   2. no comment or doc cites an issue-tracker number (the word "issue" and a number, or a hash
#      sign and a number): the tracker is not in the repository, cite a docs/ section instead;
#   3. no per-file GPU status line (a sentence saying some code has not run on a GPU) outside
#      docs/cuda.md (the one status table) and bench/RESULTS.md (the measured figures);
#   4. every relative link [text](path) in README.md and docs/*.md points at a file that exists,
#      and every same-file anchor [text](#heading) at a heading of that file.
# Prints file:line: what, for every finding; exit status 1 if there is any, 0 otherwise.
# Usage: scripts/check-docs.sh   (from anywhere; it checks the repository it lives in)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 2

self=scripts/check-docs.sh
found=0
report() { echo "$1"; found=1; }

in_list() {  # in_list NAME LIST...
  local x=$1; shift
  for y in "$@"; do [ "$x" = "$y" ] && return 0; done
  return 1
}

# The files to check: tracked and untracked-but-not-ignored text files.
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files -co --exclude-standard)
else
  mapfile -t files < <(find . -type f -not -path './.git/*' -not -path './build*' | sed 's|^\./||')
fi
existing=()
for f in "${files[@]}"; do
  case $f in tests/fuzz/*/*) continue ;; esac  # fuzz corpora: generated inputs, not prose
  [ -f "$f" ] && existing+=("$f")
done

# grep_check LABEL PERL_REGEX EXCLUDED_FILE...: one line per match outside the excluded files.
grep_check() {
  local label=$1 regex=$2; shift 2
  local f
  local -a targets=()
  for f in "${existing[@]}"; do
    [ "$f" = "$self" ] && continue
    in_list "$f" "$@" && continue
    targets+=("$f")
  done
  [ ${#targets[@]} -eq 0 ] && return
  local hit file line text
  while IFS= read -r hit; do
    file=${hit%%:*}
    line=$(cut -d: -f2 <<<"$hit")
    text=$(cut -d: -f3- <<<"$hit" | sed 's/^[[:space:]]*//' | cut -c1-120)
    report "$file:$line: $label: $text"
  done < <(printf '%s\0' "${targets[@]}" | xargs -0 grep -nIP -- "$regex" 2>/dev/null)
}

# 1. design.md only as docs/design.md; nothing outside the repository.
grep_check "cites a design.md outside docs/ (use docs/design.md section N)" \
  '(?<!docs/)(?<!\]\()\bdesign\.md' docs/design.md
grep_check "cites a path outside the repository" '(?<![\w.}])/work/'

# 2. Tracker numbers: "issue"/"issues", an optional hash sign and digits; or a hash sign and 1-4
#    digits after a space, "(", "[", "," or ";" (so #include, #pragma, #!, markdown headings and
#    hex colours do not match).
grep_check "cites an issue number (cite a docs/ section instead)" \
  '(?i)\bissues?\s?#?\d+\b|(?:^|[\s(\[,;])#\d{1,4}\b'

# 3. Per-file GPU status.
grep_check "GPU status outside docs/cuda.md (record it in its status table)" \
  '(?i)\b(not yet|never|not) (been )?run on an? GPU\b|NOT yet run|\bunrun on a GPU\b' \
  docs/cuda.md bench/RESULTS.md

# 4. Links in README.md and docs/*.md.
slugs_of() {  # GitHub heading anchors of a markdown file, one per line
  awk '/^```/ { fence = !fence; next } !fence && /^#+ / { sub(/^#+ +/, ""); print }' "$1" |
    tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9 _-]//g' -e 's/ /-/g'
}
for md in "${existing[@]}"; do
  case "$md" in README.md | docs/*.md) ;; *) continue ;; esac
  case "$md" in docs/*/*) continue ;; esac
  dir=$(dirname "$md")
  slugs=$(slugs_of "$md")
  # Links outside fenced code blocks and inline code spans: "line<TAB>target".
  while IFS=$'\t' read -r line target; do
    case "$target" in http://* | https://* | mailto:* | ftp://*) continue ;; esac
    if [[ "$target" == \#* ]]; then
      grep -qxF -- "${target#\#}" <<<"$slugs" ||
        report "$md:$line: link to a missing heading: $target"
      continue
    fi
    path=${target%%#*}
    [ -z "$path" ] && continue
    resolved=$(realpath -m --relative-to=. "$dir/$path")
    [ -e "$resolved" ] && continue
    report "$md:$line: link to a missing file: $target"
  done < <(awk '
    /^```/ { fence = !fence; next }
    fence { next }
    {
      s = $0
      gsub(/`[^`]*`/, "", s)
      while (match(s, /\]\([^) \t]+( +"[^"]*")?\)/)) {
        t = substr(s, RSTART + 2, RLENGTH - 3)
        sub(/ +".*$/, "", t)
        print NR "\t" t
        s = substr(s, RSTART + RLENGTH)
      }
    }' "$md")
done

if [ "$found" -ne 0 ]; then
  echo "check-docs: FAILED (cite docs/ sections; GPU status lives in docs/cuda.md section 1)" >&2
  exit 1
fi
echo "check-docs: ok"
