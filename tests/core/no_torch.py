"""Python code run in a fresh process where `import torch` fails, as after `pip install stitchbench`."""

import subprocess
import sys

BLOCK = """
import importlib.abc, sys

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not installed (blocked for this test)")

sys.meta_path.insert(0, NoTorch())
"""


def without_torch(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", BLOCK + code], capture_output=True, text=True, timeout=120)
