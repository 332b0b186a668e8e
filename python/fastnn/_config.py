"""fastnn.show_config(): what this build runs with."""

from __future__ import annotations

import sys

import numpy as np

from . import _C


def config() -> dict:
    """The SIMD level, threads and versions as a dict."""
    info = dict(_C._build_info())
    info.update(
        simd_level=_C.simd_level(),
        supported_simd_levels=list(_C.supported_simd_levels()),
        num_threads=_C.get_num_threads(),
        numpy=np.__version__,
        python=sys.version.split()[0],
    )
    return info


def show_config() -> None:
    """Print the chosen SIMD level, OpenMP threads and versions."""
    c = config()
    print(f"fastnn {c['version']}")
    print(
        f"  SIMD level      : {c['simd_level']} (supported: {', '.join(c['supported_simd_levels'])};"
        " FASTNN_SIMD=avx2|scalar forces a lower one)"
    )
    print(
        f"  threads         : {c['num_threads']} (OpenMP {c['openmp']}, max {c['omp_max_threads']})"
    )
    print(f"  compiler        : {c['compiler']}")
    print(f"  numpy / python  : {c['numpy']} / {c['python']}")
