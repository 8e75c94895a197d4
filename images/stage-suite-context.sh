#!/bin/sh
# Make a build context for images/suite.Dockerfile: CONTEXT/wheelhouse/ with binary wheels
# for the Python of MESA_IMAGE (read from the image itself), manylinux x86_64.
#
# Usage: images/stage-suite-context.sh MESA_IMAGE CONTEXT [REQUIREMENT...]
#   no REQUIREMENT: build the vkzc wheel from this repository (pip wheel --no-deps) and
#                   fetch the dependencies of 'vkzc[suite]'
#   REQUIREMENTs:   fetch just these (e.g. to test the layer before vkzc exists)
# Env: PLATFORMS (default: manylinux_2_17/2014/2_28 x86_64), PIP (default: python3 -m pip)
set -eu
IMAGE=${1:?usage: $0 MESA_IMAGE CONTEXT [REQUIREMENT...]}
CTX=${2:?usage: $0 MESA_IMAGE CONTEXT [REQUIREMENT...]}
shift 2
REPO=$(cd "$(dirname "$0")/.." && pwd)
PIP=${PIP:-python3 -m pip}
PLATFORMS=${PLATFORMS:-manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux_2_28_x86_64}
PYVER=$(docker run --rm --entrypoint python3 "$IMAGE" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
echo "image $IMAGE has Python $PYVER"

rm -rf "$CTX/wheelhouse"
mkdir -p "$CTX/wheelhouse"
if [ $# -eq 0 ]; then
  $PIP wheel --no-deps -w "$CTX/wheelhouse" "$REPO"
  set -- 'vkzc[suite]'
fi
plat=""
for p in $PLATFORMS; do plat="$plat --platform $p"; done
# shellcheck disable=SC2086
$PIP download --only-binary=:all: --implementation cp --python-version "$PYVER" $plat \
  --find-links "$CTX/wheelhouse" -d "$CTX/wheelhouse" "$@"
ls "$CTX/wheelhouse"
