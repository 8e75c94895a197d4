# vkzc Mesa layer built from source (meson/ninja), installed to /opt/mesa.
#
#   docker build -f images/mesa-source.Dockerfile \
#     --build-arg VULKAN_DRIVERS=swrast,panfrost,broadcom,intel \
#     -t vkzc-mesa:src-25.0.7 images/
#
# Build args (all optional):
#   BASE              trixie base made by images/make-base.sh          (vkzc-base:trixie)
#   MESA_SOURCE       debian  = `apt-get source mesa=$MESA_DEB_VERSION` from deb-src
#                               (Debian-patched tree; works from Debian's archive alone)
#                     tarball = download $MESA_URL and check it against $MESA_SHA256
#                     git     = fetch $MESA_REF (branch, tag or commit) from the git $MESA_URL
#                     (tarball and git need the internet; our dev machines reach only Debian)
#   MESA_DEB_VERSION  Debian source version                              (25.0.7-2+deb13u1)
#   MESA_URL, MESA_SHA256, MESA_REF   for tarball and git sources
#   LLVM_VERSION      LLVM major to build against; must exist in the suite (19 on trixie)
#   VULKAN_DRIVERS    meson -Dvulkan-drivers                    (swrast,panfrost,broadcom,intel)
#                     swrast = lavapipe; intel = anv; broadcom = v3dv; panfrost = panvk
#   GALLIUM_DRIVERS   meson -Dgallium-drivers (empty: lavapipe does not need the GL llvmpipe)
#   VIDEO_CODECS      meson -Dvideo-codecs (all, as Debian; for anv's Vulkan video)
#   MESON_OPTIONS     extra meson options appended last (override anything above)
#
# Builder stage: compilers + -dev packages; runtime stage: the shared libraries that
# `ldd` finds for the installed ICDs (computed in the builder, see runtime-packages.txt),
# libvulkan1 (the loader), python3 + python3-venv, and /opt/mesa.
ARG BASE=vkzc-base:trixie

FROM ${BASE} AS builder
ARG LLVM_VERSION=19
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    sed -i 's/^# *deb-src/deb-src/' /etc/apt/sources.list; \
    apt-get update; \
    apt-get install -y --no-install-recommends \
        build-essential pkgconf meson ninja-build dpkg-dev xz-utils curl ca-certificates \
        python3 python3-mako python3-yaml python3-ply python3-packaging \
        bison flex glslang-tools spirv-tools \
        libdrm-dev libexpat1-dev zlib1g-dev libzstd-dev libelf-dev libudev-dev \
        llvm-${LLVM_VERSION}-dev libclang-${LLVM_VERSION}-dev libclang-cpp${LLVM_VERSION}-dev \
        libclc-${LLVM_VERSION}-dev libclc-${LLVM_VERSION} \
        libllvmspirvlib-${LLVM_VERSION}-dev llvm-spirv-${LLVM_VERSION}; \
    rm -rf /var/lib/apt/lists/*

ARG MESA_SOURCE=debian
ARG MESA_DEB_VERSION=25.0.7-2+deb13u1
ARG MESA_URL=
ARG MESA_SHA256=
ARG MESA_REF=
WORKDIR /src
RUN set -eux; \
    case "$MESA_SOURCE" in \
      debian) \
        apt-get update; \
        apt-get source "mesa=${MESA_DEB_VERSION}"; \
        rm -rf /var/lib/apt/lists/* ./*.tar.* ./*.dsc; \
        mv mesa-*/ mesa ;; \
      tarball) \
        curl -fsSL -o mesa.tar.xz "$MESA_URL"; \
        echo "${MESA_SHA256}  mesa.tar.xz" | sha256sum -c -; \
        mkdir mesa; tar -xJf mesa.tar.xz -C mesa --strip-components=1; rm mesa.tar.xz ;; \
      git) \
        apt-get update; apt-get install -y --no-install-recommends git; rm -rf /var/lib/apt/lists/*; \
        git init -q mesa; \
        git -C mesa fetch -q --depth 1 "$MESA_URL" "$MESA_REF"; \
        git -C mesa checkout -q FETCH_HEAD ;; \
      *) echo "MESA_SOURCE must be debian, tarball or git" >&2; exit 1 ;; \
    esac; \
    cat mesa/VERSION

ARG VULKAN_DRIVERS=swrast,panfrost,broadcom,intel
ARG GALLIUM_DRIVERS=
ARG VIDEO_CODECS=all
ARG MESON_OPTIONS=
RUN set -eux; \
    cd mesa; \
    meson setup build \
        --prefix=/opt/mesa --libdir=lib --buildtype=release -Db_ndebug=true \
        -Dvulkan-drivers="${VULKAN_DRIVERS}" \
        -Dgallium-drivers="${GALLIUM_DRIVERS}" \
        -Dvideo-codecs="${VIDEO_CODECS}" \
        -Dplatforms= \
        -Dopengl=false -Dgles1=disabled -Dgles2=disabled \
        -Dglx=disabled -Degl=disabled -Dgbm=disabled -Dglvnd=disabled \
        -Dllvm=enabled -Dshared-llvm=enabled \
        -Dzstd=enabled -Dexpat=enabled \
        -Dvalgrind=disabled -Dlibunwind=disabled -Dlmsensors=disabled \
        -Dbuild-tests=false \
        ${MESON_OPTIONS}; \
    start=$(date +%s); \
    ninja -C build -j"$(nproc)"; \
    echo "VKZC ninja wall seconds: $(( $(date +%s) - start )) on $(nproc) cores"; \
    meson install -C build --strip; \
    ls -l /opt/mesa/share/vulkan/icd.d/
# Which Debian packages provide the shared libraries the installed ICDs need
# (drives the runtime stage; kept in the image for reference).
RUN set -eu; \
    mkdir -p /opt/mesa/share/vkzc; \
    find /opt/mesa -name '*.so*' -type f -exec ldd {} + \
      | awk '/=> \//{print $3}' | sort -u | grep -v '^/opt/mesa/' > /tmp/libs.txt; \
    : > /tmp/pkgs.txt; \
    while read -r lib; do \
      pkg=$( { dpkg -S "$lib" || dpkg -S "/usr$lib" || dpkg -S "$(readlink -f "$lib")"; } 2>/dev/null \
             | head -n1 | cut -d: -f1 ) || true; \
      if [ -z "$pkg" ]; then echo "no package owns $lib" >&2; exit 1; fi; \
      echo "$lib $pkg"; echo "$pkg" >> /tmp/pkgs.txt; \
    done < /tmp/libs.txt; \
    sort -u /tmp/pkgs.txt | grep -v -x -e libc6 -e libgcc-s1 -e libstdc++6 \
      > /opt/mesa/share/vkzc/runtime-packages.txt; \
    echo "runtime packages:"; cat /opt/mesa/share/vkzc/runtime-packages.txt

FROM ${BASE}
COPY --from=builder /opt/mesa /opt/mesa
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    apt-get install -y --no-install-recommends \
        libvulkan1 python3 python3-venv $(cat /opt/mesa/share/vkzc/runtime-packages.txt); \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*; \
    mkdir -p /etc/vulkan/icd.d; \
    ln -s /opt/mesa/share/vulkan/icd.d/*.json /etc/vulkan/icd.d/; \
    for f in $(find /opt/mesa -name 'libvulkan_*.so' -type f); do \
      if ldd "$f" | grep -q 'not found'; then ldd "$f"; exit 1; fi; \
    done
ENV VKZC_MESA_SOURCE=source \
    VKZC_ICD_DIR=/opt/mesa/share/vulkan/icd.d
