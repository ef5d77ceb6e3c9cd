"""Process set-up for offscreen MuJoCo rendering; must run before MuJoCo opens a GL context.

- `MUJOCO_GL` defaults to EGL (surfaceless; Mesa llvmpipe on machines without a GPU).
  An explicit value in the environment wins.
- Mesa's llvmpipe brings its own LLVM. The CUDA builds of torch ship Triton, whose library
  carries another LLVM; if Triton's library is loaded after Mesa's (torch imports Triton
  lazily, e.g. when the first optimizer is built), the process dies with a segmentation
  fault. Loading Triton's library first, when it is installed, lets both live in one process.
  Only the shared library is loaded; torch and triton are not imported.
"""

from __future__ import annotations

import ctypes
import importlib.util
import os
from pathlib import Path


def prepare_offscreen_gl() -> None:
    os.environ.setdefault("MUJOCO_GL", "egl")
    _preload_triton()


def _preload_triton() -> None:
    spec = importlib.util.find_spec("triton")
    if spec is None or spec.origin is None:
        return
    library = Path(spec.origin).parent / "_C" / "libtriton.so"
    if library.is_file():
        ctypes.CDLL(str(library))
