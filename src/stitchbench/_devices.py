"""The device torch work runs on, resolved in one place (`resolve`).

A spec is `auto` (the first CUDA device torch sees, else the CPU), `cpu`, `cuda` (every GPU torch sees: a
pool of workers takes them in turn) or `cuda:N`. Torch is imported only when a device is resolved, so the
torch-free commands can check a spec."""

import os
import platform
import re
from typing import TYPE_CHECKING

from stitchbench.errors import InputError

if TYPE_CHECKING:
    import torch

CHOICES = ("auto", "cpu", "cuda", "cuda:N")
KINDS = ("cpu", "cuda")  # what artifacts record: a device's kind, never its index
SPEC = re.compile(r"auto|cpu|cuda(:[0-9]{1,3})?")


def check(spec: object) -> str:
    """`spec` where it names a device, else an InputError naming the valid choices."""
    if not isinstance(spec, str) or not SPEC.fullmatch(spec):
        raise InputError(f"unknown device {spec!r}; valid devices: {', '.join(CHOICES)} (N: a GPU's index)")
    return spec


def resolve(spec: str = "auto") -> "torch.device":
    """The device `spec` names; an InputError for a CUDA device torch does not see. On CUDA, switches torch to
    deterministic algorithms (`deterministic`)."""
    import torch

    check(spec)
    if spec == "auto":
        spec = "cuda:0" if torch.cuda.is_available() else "cpu"
    device = torch.device(spec)
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if not count:
            raise InputError(
                f"device {spec!r}: torch {torch.__version__} sees no CUDA device (CUDA build: "
                f"{torch.version.cuda or 'none'}); valid devices here: auto, cpu"
            )
        if device.index is not None and device.index >= count:
            raise InputError(f"device {spec!r}: torch sees {count} GPU(s); valid devices: cuda:0..cuda:{count - 1}")
        deterministic()
    return device


def deterministic() -> None:
    """Deterministic CUDA kernels wherever torch has one (cuBLAS needs its workspace configured for that,
    before its first use); an op without one warns instead of failing the run."""
    import torch

    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(True, warn_only=True)


def gpus(device: "torch.device") -> list["torch.device"]:
    """The GPUs a pool of workers on `device` spreads over: cuda:N alone, or every GPU torch sees for `cuda`."""
    import torch

    if device.index is not None:
        return [device]
    return [torch.device("cuda", i) for i in range(torch.cuda.device_count())]


def worker_devices(device: "torch.device", workers: int) -> list["torch.device"]:
    """The device of each of `workers` pool workers: on CUDA they take the GPUs in turn, else the CPU."""
    if device.type != "cuda":
        return [device] * workers
    found = gpus(device)
    return [found[i % len(found)] for i in range(workers)]


def describe(device: "torch.device") -> dict[str, str]:
    """What a run's manifest records of its device: the kind, and the GPU's name (else the CPU's machine)."""
    import torch

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.machine()
    return {"kind": device.type, "name": name}
