"""Loads torchvision's pure-Python parts without its package __init__.

The torchvision wheel on the local package index is the CUDA build of the version that matches torch 2.13: its
__init__ registers C++ ops that a CPU-only torch cannot load, and once it is installed transformers imports it too.
The reference scripts need only torchvision.transforms (to_tensor, to_pil_image, ToPILImage: the official
Step1X-Edit code's pixel conversions), which are plain Python. Call use_transforms_only() before importing
transformers or the official code; with a working torchvision (or none) it does nothing.
"""

import importlib.util
import os
import sys
import types


def use_transforms_only():
    spec = importlib.util.find_spec("torchvision")
    if spec is None or "torchvision" in sys.modules:
        return
    try:
        import torchvision  # noqa: F401  (a working install: keep it)

        return
    except (RuntimeError, OSError, ImportError):
        for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
            del sys.modules[name]
    package = types.ModuleType("torchvision")
    package.__path__ = [os.path.dirname(spec.origin)]
    package.__file__ = spec.origin
    package.__spec__ = spec
    package.__version__ = "unknown"
    version_file = os.path.join(os.path.dirname(spec.origin), "version.py")
    if os.path.exists(version_file):
        with open(version_file) as f:
            for line in f:
                if line.startswith("__version__"):
                    package.__version__ = line.split("=", 1)[1].strip().strip("'\"")
    sys.modules["torchvision"] = package
