#!/usr/bin/env bash
# The steps of deploy/docker/cpu.Dockerfile that run without a container engine:
# the build packages are known to apt, the runtime packages derived from the real
# binaries are known to apt and ship every library the binaries link, every file the
# Dockerfiles copy exists, and the scripts pass shellcheck.
# Usage: cpu_image_steps_test.sh SOURCE_DIR BINARY...
set -euo pipefail
source_dir=$1
shift
steps="$source_dir/deploy/docker/image-steps.sh"
# shellcheck source=SCRIPTDIR/script_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/script_test_lib.sh"

shellcheck -x "$steps" "$source_dir"/scripts/*.sh "$source_dir"/scripts/lib/*.sh "$source_dir"/tests/deploy/*.sh ||
  fail "shellcheck found problems"
"$steps" build-deps cpu --dry-run
"$steps" build-deps cuda --dry-run
if "$steps" build-deps gpu --dry-run 2>/dev/null; then fail "build-deps accepted an unknown flavour"; fi

"$steps" runtime-packages "$@" >"$scratch/runtime-packages.txt"
"$steps" runtime-deps "$scratch/runtime-packages.txt" --dry-run
# Cross-check with dpkg's file lists: each library a binary links is shipped by a listed package.
mapfile -t packages <"$scratch/runtime-packages.txt"
dpkg -L "${packages[@]}" >"$scratch/files.txt"
while read -r soname; do
  grep -q "/$soname\$" "$scratch/files.txt" || fail "no runtime package ships $soname (packages: ${packages[*]})"
done < <(readelf --dynamic "$@" | awk '/\(NEEDED\)/ { gsub(/[][]/, "", $5); print $5 }' | sort -u)
echo "runtime packages: ${packages[*]}"

for dockerfile in "$source_dir"/deploy/docker/*.Dockerfile; do
  # COPY sources that are not from another stage must exist in the build context (the repository root).
  while read -r copied; do
    [[ -e "$source_dir/$copied" ]] || fail "$(basename "$dockerfile") copies $copied, which does not exist"
  done < <(awk '$1 == "COPY" && $2 !~ /^--from/ { print $2 }' "$dockerfile")
  while read -r step; do
    [[ "$step" =~ ^(build-deps|build|runtime-packages|runtime-deps)$ ]] || fail "$(basename "$dockerfile") calls image-steps.sh $step"
  done < <(grep -oE 'image-steps\.sh [a-z-]+' "$dockerfile" | awk '{ print $2 }')
  grep -q '^USER 10001' "$dockerfile" || fail "$(basename "$dockerfile") does not switch to the non-root user"
done
echo "ok: image steps check out for $(basename -a "$@" | tr '\n' ' ')"
