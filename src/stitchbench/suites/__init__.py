"""The suites shipped with stitchbench: the TOML files in this folder, by name (`stitchbench list suites`)."""

from importlib import resources
from pathlib import Path

__all__ = ["shipped_suites"]


def shipped_suites() -> dict[str, Path]:
    folder = resources.files(__name__)
    return {Path(str(f)).stem: Path(str(f)) for f in folder.iterdir() if str(f).endswith(".toml")}
