"""SYRAC: Synthesize, Rank, and Count.

Importing the package tunes glibc's allocator once, before any tensor exists. PyTorch on CPU allocates
large activations with malloc; glibc serves each one above its mmap threshold with a fresh mmap and
returns it on free, so every forward pass faults in and zeroes its pages again. glibc raises that
threshold itself only after a large block has been freed, which made `syrac count` read the embedded
benchmarks 1.4 to 1.9 times as fast once the SSD detector's graph had been loaded and dropped in the
same process (perf/RESULTS.md). A fixed threshold (32 MiB, glibc's ceiling on 64-bit) and a high trim
threshold keep such blocks in the heap for reuse from the start. The arithmetic is untouched: outputs
are the same bytes. Skipped where the C library is not glibc, or where MALLOC_MMAP_THRESHOLD_ is set
(the user's own choice).
"""

import ctypes
import os
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt's parameters (malloc.h)


def _keep_large_blocks() -> None:
    if not sys.platform.startswith("linux") or "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # musl and others: no mallopt to call
        return
    mallopt(M_MMAP_THRESHOLD, 32 << 20)
    mallopt(M_TRIM_THRESHOLD, 1 << 30)


_keep_large_blocks()
