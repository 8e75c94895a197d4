# vkzc Mesa layer from Debian's own binary packages (lavapipe + the other Vulkan ICDs
# Debian ships in mesa-vulkan-drivers).
#
#   docker build -f images/mesa-debian.Dockerfile \
#     --build-arg BASE=vkzc-base:trixie --build-arg MESA_VERSION=25.0.7-2+deb13u1 \
#     -t vkzc-mesa:trixie images/
#
# BASE          a vkzc-base:<suite> image made by images/make-base.sh (no registry needed)
# MESA_VERSION  exact Debian version of mesa-vulkan-drivers; apt fails if the suite lacks it
# APT_SUITE     optional: install mesa from this release (e.g. bookworm-backports, which must
#               then be in the base's sources); empty = the base's default suite
ARG BASE=vkzc-base:trixie
FROM ${BASE}
ARG MESA_VERSION
ARG APT_SUITE=
RUN set -eux; \
    test -n "${MESA_VERSION}" || { echo "MESA_VERSION build arg is required" >&2; exit 1; }; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    apt-get install -y --no-install-recommends ${APT_SUITE:+-t "$APT_SUITE"} \
        "mesa-vulkan-drivers=${MESA_VERSION}" libvulkan1 python3 python3-venv; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*; \
    dpkg-query -W mesa-vulkan-drivers libvulkan1 python3; \
    ls /usr/share/vulkan/icd.d/
ENV VKZC_MESA_SOURCE=debian \
    VKZC_MESA_VERSION=${MESA_VERSION} \
    VKZC_ICD_DIR=/usr/share/vulkan/icd.d
LABEL org.vkzc.mesa.source=debian org.vkzc.mesa.version=${MESA_VERSION}
