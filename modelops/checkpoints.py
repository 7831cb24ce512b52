"""Sizes, checksums and parameter counts of checkpoint directories (no weights loaded).

Django-free: used by the import, training, quantization and export code alike, so a version's
size and checksum mean the same thing whichever command registered it.
"""

from __future__ import annotations

import hashlib
import json
import struct
from math import prod
from pathlib import Path
from typing import Any

_BLOCK = 4 * 1024 * 1024


def file_sha256(path: Path) -> str:
    """SHA-256 of one file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def weights_sha256(directory: Path, pattern: str = "*.safetensors") -> str:
    """One SHA-256 over the weight files of a checkpoint, in name order."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob(pattern)):
        with path.open("rb") as handle:
            for block in iter(lambda handle=handle: handle.read(_BLOCK), b""):  # type: ignore[misc]
                digest.update(block)
    return digest.hexdigest()


def directory_size(directory: Path) -> int:
    """Bytes of every file under ``directory``."""
    return sum(path.stat().st_size for path in directory.rglob("*") if path.is_file())


def weights_size(directory: Path, pattern: str = "*.safetensors") -> int:
    """Bytes of the weight files only."""
    return sum(path.stat().st_size for path in directory.glob(pattern))


def safetensors_header(path: Path) -> dict[str, dict[str, Any]]:
    """The JSON header of a safetensors file: tensor name -> dtype, shape, data offsets."""
    with path.open("rb") as handle:
        (length,) = struct.unpack("<Q", handle.read(8))
        header: dict[str, dict[str, Any]] = json.loads(handle.read(length))
    header.pop("__metadata__", None)
    return header


def tensor_bytes(directory: Path) -> dict[str, int]:
    """Tensor name -> stored bytes, over every safetensors file of the checkpoint."""
    sizes: dict[str, int] = {}
    for path in sorted(directory.glob("*.safetensors")):
        for name, info in safetensors_header(path).items():
            start, end = info["data_offsets"]
            sizes[name] = int(end) - int(start)
    return sizes


def parameter_count(directory: Path) -> int:
    """Numbers stored in the checkpoint's tensors, read from the headers."""
    total = 0
    for path in sorted(directory.glob("*.safetensors")):
        for info in safetensors_header(path).values():
            total += int(prod(int(size) for size in info["shape"]))
    return total
