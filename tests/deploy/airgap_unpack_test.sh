#!/usr/bin/env bash
# deploy/airgap/build.sh --unpack-only on a bundle of small made-up .debs, no network and
# no root: it unpacks into BUILD_DIR/deps, writes an env.sh that puts the prefix first for
# programs, the loader, the linker and pkg-config, skips an unchanged bundle, replaces the
# prefix it made when the bundle changes, and refuses a tampered bundle, a bundle that
# lacks a listed package and a prefix it did not make.
# Usage: airgap_unpack_test.sh SOURCE_DIR
set -euo pipefail
source_dir=$1
# shellcheck source=SCRIPTDIR/script_test_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/script_test_lib.sh"
multiarch=x86_64-linux-gnu

# build.sh reads packages.txt from its own checkout: give the copy a list of made-up packages.
mkdir -p "$scratch/src/deploy/airgap"
cp "$source_dir/deploy/airgap/build.sh" "$scratch/src/deploy/airgap/"
build=$scratch/src/deploy/airgap/build.sh
printf '%s\n' '# made-up packages' 'libfake1' 'libfake++-dev' 'fake-tools' >"$scratch/src/deploy/airgap/packages.txt"

# make_deb OUTDIR NAME VERSION: a .deb whose files are whatever make_tree put in $scratch/tree.
make_deb() {
  local outdir=$1 name=$2 version=$3
  mkdir -p "$scratch/tree/DEBIAN" "$outdir"
  printf 'Package: %s\nVersion: %s\nArchitecture: amd64\nMaintainer: deltaserve tests <tests@invalid>\nDescription: made up for airgap_unpack_test\n' \
    "$name" "$version" >"$scratch/tree/DEBIAN/control"
  dpkg-deb --root-owner-group --build "$scratch/tree" "$outdir/${name}_${version}_amd64.deb" >/dev/null
  rm -rf "$scratch/tree"
}

# make_bundle OUTDIR TOOL: the three packages; fake-tools ships the program named TOOL.
make_bundle() {
  local outdir=$1 tool=$2
  mkdir -p "$scratch/tree/usr/lib/$multiarch"
  echo "not really a library" >"$scratch/tree/usr/lib/$multiarch/libfake.so.1"
  make_deb "$outdir" libfake1 1.0-1
  mkdir -p "$scratch/tree/usr/lib/$multiarch/pkgconfig"
  ln -s libfake.so.1 "$scratch/tree/usr/lib/$multiarch/libfake.so"
  cat >"$scratch/tree/usr/lib/$multiarch/pkgconfig/fake.pc" <<'EOF'
prefix=/usr
libdir=${prefix}/lib/x86_64-linux-gnu
includedir=${prefix}/include
Name: fake
Description: made up
Version: 1.0
Libs: -L${libdir} -lfake
Cflags: -I${includedir}/fake
EOF
  make_deb "$outdir" libfake++-dev 1.0-1
  mkdir -p "$scratch/tree/usr/bin"
  printf '#!/bin/sh\necho %s\n' "$tool" >"$scratch/tree/usr/bin/$tool"
  chmod +x "$scratch/tree/usr/bin/$tool"
  make_deb "$outdir" fake-tools "1:1.0-1"
  (cd "$outdir" && sha256sum -- *.deb >SHA256SUMS)
}

make_bundle "$scratch/bundle" fake-tool
"$build" --unpack-only "$scratch/bundle" "$scratch/build" >"$scratch/out" || fail "unpack failed: $(cat "$scratch/out")"
prefix=$scratch/build/deps
for file in usr/lib/$multiarch/libfake.so.1 usr/lib/$multiarch/libfake.so usr/lib/$multiarch/pkgconfig/fake.pc usr/bin/fake-tool; do
  [[ -e "$prefix/$file" ]] || fail "$file is not in the prefix $prefix"
done

# What a later shell gets from env.sh.
(
  export PATH=/usr/bin:/bin LD_LIBRARY_PATH=/somewhere/else
  unset LIBRARY_PATH PKG_CONFIG_PATH PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR PKG_CONFIG_ALLOW_SYSTEM_LIBS
  # shellcheck source=/dev/null
  source "$scratch/build/env.sh"
  [[ "$(command -v fake-tool)" == "$prefix/usr/bin/fake-tool" ]] || fail "env.sh does not put $prefix/usr/bin first on PATH"
  [[ "$LD_LIBRARY_PATH" == "$prefix/usr/lib/$multiarch:/somewhere/else" ]] || fail "env.sh LD_LIBRARY_PATH is $LD_LIBRARY_PATH"
  [[ "$LIBRARY_PATH" == "$prefix/usr/lib/$multiarch" ]] || fail "env.sh LIBRARY_PATH is $LIBRARY_PATH"
  [[ "$DELTASERVE_DEPS_PREFIX" == "$prefix" ]] || fail "env.sh DELTASERVE_DEPS_PREFIX is $DELTASERVE_DEPS_PREFIX"
  flags=$(pkg-config --cflags --libs fake) || fail "pkg-config does not find fake.pc through env.sh"
  read -r -a words <<<"$flags"
  flags=${words[*]}
  [[ "$flags" == "-I$prefix/usr/include/fake -L$prefix/usr/lib/$multiarch -lfake" ]] ||
    fail "pkg-config gives '$flags', not paths inside $prefix"
)

"$build" --unpack-only "$scratch/bundle" "$scratch/build" >"$scratch/out"
grep -q "already holds this bundle" "$scratch/out" || fail "an unchanged bundle was unpacked again: $(cat "$scratch/out")"

# A changed bundle replaces the prefix this script made: the old program is gone.
make_bundle "$scratch/bundle2" fake-tool2
"$build" --unpack-only "$scratch/bundle2" "$scratch/build" >"$scratch/out" || fail "new bundle: $(cat "$scratch/out")"
[[ -x "$prefix/usr/bin/fake-tool2" && ! -e "$prefix/usr/bin/fake-tool" ]] || fail "the new bundle did not replace the prefix"

# expect_refusal WHAT MESSAGE BUILD_ARGS...: build.sh fails, and says MESSAGE.
expect_refusal() {
  local what=$1 message=$2
  shift 2
  if "$build" --unpack-only "$@" >"$scratch/out" 2>&1; then fail "build.sh accepted $what"; fi
  grep -qF "$message" "$scratch/out" || fail "refusing $what, build.sh did not say '$message': $(cat "$scratch/out")"
}

cp -r "$scratch/bundle" "$scratch/tampered"
echo >>"$scratch/tampered/libfake1_1.0-1_amd64.deb"
expect_refusal "a tampered bundle" "does not match its SHA256SUMS" "$scratch/tampered" "$scratch/build-tampered"
[[ ! -e "$scratch/build-tampered/deps" ]] || fail "a tampered bundle was unpacked"

cp -r "$scratch/bundle" "$scratch/partial"
rm "$scratch/partial/libfake++-dev_1.0-1_amd64.deb"
(cd "$scratch/partial" && sha256sum -- *.deb >SHA256SUMS)
expect_refusal "a bundle without libfake++-dev" "lacks libfake++-dev" "$scratch/partial" "$scratch/build-partial"

mkdir -p "$scratch/foreign"
touch "$scratch/foreign/keep-me"
DELTASERVE_DEPS_PREFIX=$scratch/foreign expect_refusal "a prefix it did not make" "was not made by this script" \
  "$scratch/bundle" "$scratch/build-foreign"
[[ -e "$scratch/foreign/keep-me" ]] || fail "build.sh touched a prefix it did not make"
echo "ok: build.sh --unpack-only unpacks, writes env.sh and refuses what it should"
