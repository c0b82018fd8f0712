#!/usr/bin/env bash
# apt knows every package of deploy/airgap/packages.txt, checked offline from apt's lists
# with bundle.sh --check, and that check names a package apt does not know.
# Usage: airgap_packages_known_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
# shellcheck source=SCRIPTDIR/script_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/script_test_lib.sh"

"$source_dir/deploy/airgap/bundle.sh" --check

# bundle.sh reads the packages.txt next to it: a copy with one made-up name must be refused.
mkdir -p "$scratch/deploy/airgap" "$scratch/deploy/docker"
cp "$source_dir/deploy/airgap/bundle.sh" "$source_dir/deploy/airgap/packages.txt" "$scratch/deploy/airgap/"
cp "$source_dir/deploy/docker/image-steps.sh" "$scratch/deploy/docker/"
echo "deltaserve-no-such-package # not in Debian" >>"$scratch/deploy/airgap/packages.txt"
if "$scratch/deploy/airgap/bundle.sh" --check 2>"$scratch/stderr"; then
  fail "bundle.sh --check accepted a package apt does not know"
fi
grep -q "apt does not know: deltaserve-no-such-package " "$scratch/stderr" ||
  fail "bundle.sh --check did not name the unknown package: $(cat "$scratch/stderr")"
echo "ok: apt knows every package of deploy/airgap/packages.txt"
