#!/usr/bin/env bash
# On a connected Debian 12 (bookworm, amd64) machine: downloads the packages of
# packages.txt (next to this script) for deploy/airgap/build.sh to unpack on an
# air-gapped GPU host. No root needed.
#
#   bundle.sh OUTDIR   download each package's candidate .deb into OUTDIR (files already
#                      there are kept; older versions of the same packages are removed),
#                      write OUTDIR/SHA256SUMS and print the bundle's size.
#   bundle.sh --check  only check that apt knows every package (offline, from apt's lists).
set -euo pipefail
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
packages_file=$script_dir/packages.txt

die() {
  echo "bundle: $*" >&2
  exit 1
}

# The .debs are unpacked next to each other, so all must come from one release and
# architecture: the one build.sh was tried with.
require_bookworm_amd64() {
  local codename arch
  codename=$(sed -n 's/^VERSION_CODENAME=//p' /etc/os-release)
  arch=$(dpkg --print-architecture)
  [[ "$codename" == bookworm && "$arch" == amd64 ]] ||
    die "needs Debian 12 (bookworm) on amd64, this machine is $codename on $arch"
}

read_packages() {
  sed -e 's/#.*//' -e 's/[[:space:]]//g' "$packages_file" | grep -v '^$'
}


# The file names apt-get download gives the candidates, NAME_VERSION_ARCH.deb with the
# epoch's colon written as %3a, one line each: "NAME FILE".
candidate_debs() {
  apt-cache show --no-all-versions "$@" | awk '
    /^Package: / { name = $2 }
    /^Version: / { version = $2; sub(/:/, "%3a", version) }
    /^Architecture: / { arch = $2 }
    /^$/ && name != "" { print name, name "_" version "_" arch ".deb"; name = "" }
    END { if (name != "") print name, name "_" version "_" arch ".deb" }'
}

download() {
  local outdir=$1 package deb stale
  shift
  mkdir -p "$outdir"
  local debs=() wanted=()
  while read -r package deb; do
    debs+=("$deb")
    if [[ -f "$outdir/$deb" ]]; then continue; fi
    for stale in "$outdir/${package}_"*.deb; do
      if [[ -f "$stale" ]]; then rm -v -- "$stale"; fi
    done
    wanted+=("$package")
  done < <(candidate_debs "$@")
  # As root, apt's download sandbox user cannot write into OUTDIR; that is only noise.
  local sandbox=()
  [[ $(id -u) -ne 0 ]] || sandbox=(-o APT::Sandbox::User=root)
  if ((${#wanted[@]})); then (cd "$outdir" && apt-get download -q "${sandbox[@]}" "${wanted[@]}"); fi
  (cd "$outdir" && sha256sum -- "${debs[@]}" >SHA256SUMS)
  echo "bundle: ${#debs[@]} packages in $outdir, $(du -sh --apparent-size "$outdir" | cut -f1) in all"
}

main() {
  (($# == 1)) || die "usage: bundle.sh OUTDIR | bundle.sh --check"
  require_bookworm_amd64
  local packages
  mapfile -t packages < <(read_packages)
  "$script_dir/../docker/image-steps.sh" known-packages "${packages[@]}" >/dev/null ||
    die "a package of $packages_file is unknown to apt (above)"
  if [[ "$1" == --check ]]; then
    echo "bundle: apt knows all ${#packages[@]} packages of $packages_file"
  else
    download "$1" "${packages[@]}"
  fi
}

main "$@"
