# vkzc decode layer, for runners with hardware decoders (matrix.yaml `decoders`): Debian's PyAV
# (python3-av) and the FFmpeg libraries it is built against, plus what the runner's decoders need
# beside them (VA drivers and vainfo for vaapi, v4l-utils for v4l2). Debian's package rather than a
# PyAV compiled here: it links the same FFmpeg as the system's VA drivers and libdrm, and needs no
# Cython build (about 20 minutes under arm64 emulation). PyPI's av wheels bundle their own FFmpeg,
# built without VAAPI. The suite layer above makes its venv with --system-site-packages, so that
# `import av` is this one and pip counts the `decode` extra's `av` as already installed.
#
# Build args:
#   BASE             a mesa image, or a VM layer over one
#   DECODE_PACKAGES  Debian packages beside python3-av (vkzc/images/plan.py chooses them per
#                    decoder and architecture)
ARG BASE=vkzc-mesa:sid
FROM ${BASE}
ARG DECODE_PACKAGES=
RUN set -eux; \
    export DEBIAN_FRONTEND=noninteractive; \
    apt-get update; \
    apt-get install -y --no-install-recommends python3-av ${DECODE_PACKAGES}; \
    apt-get clean; \
    rm -rf /var/lib/apt/lists/*; \
    dpkg-query -W python3-av 'libavcodec[0-9]*' ${DECODE_PACKAGES}; \
    python3 -c "import av, av.codec.hwaccel as h; print('PyAV', av.__version__, av.library_versions['libavcodec'], h.hwdevices_available())"
LABEL org.vkzc.decode.packages="python3-av ${DECODE_PACKAGES}"
