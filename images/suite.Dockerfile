# vkzc suite layer: a venv at /opt/vkzc with vkzc[suite] installed offline from a
# host-made wheelhouse, and a non-root user `vkzc` (uid 1000, groups video + render).
#
# Build context = a directory holding wheelhouse/ (images/stage-suite-context.sh makes one
# for a given mesa image: the vkzc wheel built from this repo plus its dependencies as
# binary wheels for that image's Python):
#
#   images/stage-suite-context.sh vkzc-mesa:trixie /var/tmp/vkzc-ctx-trixie
#   docker build -f images/suite.Dockerfile --build-arg BASE=vkzc-mesa:trixie \
#     -t vkzc-suite:trixie /var/tmp/vkzc-ctx-trixie
#
# Build args:
#   BASE        a mesa image (mesa-debian.Dockerfile or mesa-source.Dockerfile)
#   PACKAGES    pip requirement(s) to install from the wheelhouse      ("vkzc[suite]")
#   VKZC_UID    uid/gid of the user vkzc                               (1000)
#   RENDER_GID  gid for the render group if the image lacks one; empty = next free system
#               gid. At run time pass the host's: --group-add "$(stat -c %g /dev/dri/renderD128)"
ARG BASE=vkzc-mesa:trixie
FROM ${BASE}
ARG VKZC_UID=1000
ARG RENDER_GID=
RUN set -eux; \
    getent group video >/dev/null || groupadd -r video; \
    getent group render >/dev/null || groupadd -r ${RENDER_GID:+-g "$RENDER_GID"} render; \
    groupadd -g "${VKZC_UID}" vkzc; \
    useradd -m -u "${VKZC_UID}" -g vkzc -G video,render -s /bin/bash vkzc

ARG PACKAGES="vkzc[suite]"
COPY wheelhouse/ /opt/vkzc-wheelhouse/
RUN set -eux; \
    python3 -m venv /opt/vkzc; \
    /opt/vkzc/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \
        --find-links /opt/vkzc-wheelhouse ${PACKAGES}; \
    /opt/vkzc/bin/pip list --disable-pip-version-check

ENV VIRTUAL_ENV=/opt/vkzc \
    PATH=/opt/vkzc/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /home/vkzc
USER vkzc
CMD ["/bin/bash"]
