#!/bin/sh
# Packs the fileinfo example as a Docker build context: package.sh [OUT.tar.gz]
# The image is FROM scratch, so the static busybox (Debian's busybox-static) goes in with it.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-fileinfo.tar.gz}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$here/Dockerfile" "$here/handler.sh" "$work/"
cp /bin/busybox "$work/busybox"
tar -C "$work" -czf "$out" Dockerfile handler.sh busybox
echo "$out"
