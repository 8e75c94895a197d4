# vkzc suite layer: vkzc and its dependencies in a venv at /opt/vkzc, installed offline from a
# wheelhouse made on the host, the suite and shaders in /opt/vkzc/src, and a non-root user
# `vkzc` (uid 1000, groups video + render). `vkzc matrix build` stages the context
# (vkzc/images/wheelhouse.py): wheelhouse/ for this image's Python, src/suite, src/shaders and
# src/bench (`vkzc matrix run --bench` runs the benchmarks in the cell).
#
# Build args:
#   BASE        a mesa image (mesa-debian.Dockerfile or mesa-source.Dockerfile)
#   VKZC_UID    uid/gid of the user vkzc                               (1000)
#   RENDER_GID  gid for the render group if the image lacks one; empty = next free system
#               gid. Cells add the host's device groups at run time (group_add).
#   VENV_OPTIONS  `--system-site-packages` over a decode layer (decode.Dockerfile), so that the
#               venv sees Debian's PyAV and pip does not install PyPI's av (no VAAPI) over it;
#               empty otherwise
ARG BASE=vkzc-mesa:trixie
FROM ${BASE}
ARG VKZC_UID=1000
ARG RENDER_GID=
ARG VENV_OPTIONS=
RUN set -eux; \
    getent group video >/dev/null || groupadd -r video; \
    getent group render >/dev/null || groupadd -r ${RENDER_GID:+-g "$RENDER_GID"} render; \
    groupadd -g "${VKZC_UID}" vkzc; \
    useradd -m -u "${VKZC_UID}" -g vkzc -G video,render -s /bin/bash vkzc

COPY wheelhouse/ /opt/vkzc-wheelhouse/
RUN set -eux; \
    python3 -m venv ${VENV_OPTIONS} /opt/vkzc; \
    /opt/vkzc/bin/pip install --no-index --no-cache-dir --disable-pip-version-check \
        --find-links /opt/vkzc-wheelhouse "vkzc[bench,decode]"; \
    rm -rf /opt/vkzc-wheelhouse; \
    /opt/vkzc/bin/pip list --disable-pip-version-check
COPY src/ /opt/vkzc/src/

ENV VIRTUAL_ENV=/opt/vkzc \
    PATH=/opt/vkzc/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    PYTHONDONTWRITEBYTECODE=1 \
    VKZC_SHADER_DIR=/opt/vkzc/src/shaders
WORKDIR /home/vkzc
USER vkzc
CMD ["/bin/bash"]
