#!/bin/sh
# Build vkzc-base:<suite> from Debian's archive without any container registry:
#   debootstrap --variant=minbase <suite> ROOTFS MIRROR  ->  tar | docker import
# Usage: images/make-base.sh <bookworm|trixie|sid> [TAG]
# Env:   MIRROR (default http://deb.debian.org/debian), WORKDIR (default /var/tmp/vkzc-bootstrap)
#        ARCH (default: host's dpkg arch; other arches need qemu-user-static + binfmt)
set -eu
SUITE=${1:?usage: $0 <suite> [tag]}
TAG=${2:-vkzc-base:$SUITE}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
SECMIRROR=${SECMIRROR:-http://deb.debian.org/debian-security}
WORKDIR=${WORKDIR:-/var/tmp/vkzc-bootstrap}
ARCH=${ARCH:-$(dpkg --print-architecture)}
ROOT="$WORKDIR/$SUITE-$ARCH"

rm -rf "$ROOT"
mkdir -p "$WORKDIR"
debootstrap --arch="$ARCH" --variant=minbase "$SUITE" "$ROOT" "$MIRROR"

# apt sources: the suite plus its updates/security pockets where Debian has them;
# deb-src lines are present but commented (mesa-source.Dockerfile enables them).
case "$SUITE" in
  sid|unstable)
    cat > "$ROOT/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
# deb-src $MIRROR $SUITE main
SRC
    ;;
  *)
    cat > "$ROOT/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb $SECMIRROR $SUITE-security main
SRC
    # backports: pinned at 100 by Debian (NotAutomatic), so it changes nothing unless
    # asked for (mesa-debian.Dockerfile APT_SUITE=bookworm-backports).
    if [ "$SUITE" = bookworm ]; then
      echo "deb $MIRROR $SUITE-backports main" >> "$ROOT/etc/apt/sources.list"
    fi
    cat >> "$ROOT/etc/apt/sources.list" <<SRC
# deb-src $MIRROR $SUITE main
# deb-src $MIRROR $SUITE-updates main
# deb-src $SECMIRROR $SUITE-security main
SRC
    ;;
esac

# Every later apt-get in every image: no recommends, and tolerate an expired
# Release file (sid's is expired on this archive; harmless elsewhere).
cat > "$ROOT/etc/apt/apt.conf.d/90vkzc" <<'CONF'
Acquire::Check-Valid-Until "false";
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
CONF

# Smaller, reproducible-ish rootfs: drop apt lists and caches fetched by debootstrap.
rm -rf "$ROOT"/var/lib/apt/lists/* "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/cache/apt/archives/*.deb

tar --numeric-owner -C "$ROOT" -c . | docker import \
  --change 'CMD ["/bin/bash"]' \
  --change 'ENV LANG=C.UTF-8' \
  --change "LABEL org.vkzc.suite=$SUITE org.vkzc.mirror=$MIRROR" \
  - "$TAG"
echo "built $TAG from $SUITE ($ARCH)"
