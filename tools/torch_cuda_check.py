"""`make setup`'s last step: where `nvidia-smi -L` lists a GPU, the installed torch must be a CUDA build.

A torch built without CUDA (a `+cpu` wheel) imports and runs, silently on the CPU, so a GPU machine
would search at CPU speed. This stops setup with one line saying how to install a CUDA build.
Exit code 0: fine (no GPU listed, or torch has CUDA); 1: the one line on stderr.
"""

from __future__ import annotations

import shutil
import subprocess
import sys


def listed_gpus() -> list[str]:
    """The GPUs `nvidia-smi -L` lists ([] without nvidia-smi or when it fails)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return []
    try:
        out = subprocess.run([exe, "-L"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [line.strip() for line in out.splitlines() if line.startswith("GPU ")]


def problem(gpus: list[str], torch_version: str, cuda_version: str | None) -> str | None:
    if not gpus or cuda_version:
        return None
    name = gpus[0].split(" (UUID")[0]
    return (
        f"nvidia-smi lists a GPU ({name}) but torch {torch_version} was built without CUDA: "
        f"install a CUDA build, e.g. `.venv/bin/pip install --force-reinstall -c constraints.txt torch "
        f"torchvision --index-url https://download.pytorch.org/whl/cu130` (pick the cuXXX that the "
        f"driver version in nvidia-smi supports), then rerun make"
    )


def main() -> int:
    gpus = listed_gpus()
    if not gpus:
        return 0
    import torch

    message = problem(gpus, torch.__version__, getattr(torch.version, "cuda", None))
    if message:
        print(message, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
