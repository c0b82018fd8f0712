#!/usr/bin/env bash
# apt knows every package of deploy/airgap/packages.txt, checked offline from apt's lists
# with bundle.sh --check, and that check names a package apt does not know.
# Usage: airgap_packages_known_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}

"$source_dir/deploy/airgap/bundle.sh" --check

# bundle.sh reads the packages.txt next to it: a copy with one made-up name must be refused.
cp "$source_dir/deploy/airgap/bundle.sh" "$source_dir/deploy/airgap/packages.txt" "$scratch/"
echo "deltaserve-no-such-package # not in Debian" >>"$scratch/packages.txt"
if "$scratch/bundle.sh" --check 2>"$scratch/stderr"; then
  fail "bundle.sh --check accepted a package apt does not know"
fi
grep -q "apt does not know: deltaserve-no-such-package " "$scratch/stderr" ||
  fail "bundle.sh --check did not name the unknown package: $(cat "$scratch/stderr")"
echo "ok: apt knows every package of deploy/airgap/packages.txt"
