"""The CPU's side of every transfer, the same in each path and in the limit it is measured against:
a producer that writes every byte once (a memset, as the seed benchmark's fill) and a consumer that
reads every byte once (a checksum). Both run in numpy's C loops, so Python costs nothing per byte.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

PRODUCED = 0x5A


def produce(view: npt.NDArray[np.uint8]) -> None:
    view.fill(PRODUCED)


def consume(view: npt.NDArray[np.uint8]) -> int:
    # Eight bytes a step: a byte-wise reduction would measure numpy's loop, not the memory.
    return int(np.bitwise_xor.reduce(view.view(np.uint64)))
