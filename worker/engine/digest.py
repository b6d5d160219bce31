"""The content digest of a local model folder, so that a report names exactly the weights it measured (a hub
model is named by its resolved commit instead).

sha256 over config.json and the weight files, in order of their path in the folder: for each, its relative
path, a NUL byte, its size in decimal, a NUL byte, then its bytes. Files are read in blocks (never whole), and a
folder's digest is remembered per process while no file's path, size or modification time changes.
"""

import hashlib
from functools import lru_cache
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")
BLOCK_BYTES = 1 << 20

FileStamp = tuple[str, int, int]  # relative path, size, modification time (ns)


def content_digest(folder: Path) -> str:
    """`sha256:<hex>` of the folder's config.json and weight files."""
    return _digest(folder.resolve(), tuple(_stamps(folder.resolve())))


def _stamps(folder: Path) -> list[FileStamp]:
    files = sorted(
        path for path in folder.rglob("*")
        if path.is_file() and (path.suffix in WEIGHT_SUFFIXES or path.relative_to(folder) == Path("config.json"))
    )  # fmt: skip
    return [(path.relative_to(folder).as_posix(), path.stat().st_size, path.stat().st_mtime_ns) for path in files]


@lru_cache(maxsize=64)
def _digest(folder: Path, stamps: tuple[FileStamp, ...]) -> str:
    sha = hashlib.sha256()
    for relative, size, _mtime in stamps:
        sha.update(f"{relative}\0{size}\0".encode())
        with open(folder / relative, "rb") as handle:
            while block := handle.read(BLOCK_BYTES):
                sha.update(block)
    return f"sha256:{sha.hexdigest()}"
