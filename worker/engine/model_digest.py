"""A model's content digest: what the report names a measured local model by (provenance `content_sha256`)
and the result cache's key (service.specs.cache_key) is made of.

A hub model is its resolved commit. A local folder is a sha256 over its weight files (each one's own sha256,
memoised by path, size and modification time, so that an unchanged file is not read again) and the files that
configure the model and its tokenizer (worker.engine.identity, compared as parsed, without volatile keys).
"""

import hashlib
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt")
READ_BYTES = 1 << 24


_IN_MEMORY: dict[str, str] = {}  # one per process: loading a model and keying the cache never hash a file twice


class FileDigests:
    """sha256 of files, memoised in this process's memory and, when given a folder, on disk (a file per entry)."""

    def __init__(self, memo_dir: Path | None = None) -> None:
        self.memo_dir = memo_dir
        self._memo = _IN_MEMORY

    def of(self, path: Path) -> str:
        stat = path.stat()
        entry = hashlib.sha256(f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()
        if entry in self._memo:
            return self._memo[entry]
        stored = self.memo_dir / entry if self.memo_dir else None
        if stored is not None and stored.is_file():
            digest = stored.read_text(encoding="ascii").strip()
        else:
            digest = _file_sha256(path)
            if stored is not None:
                stored.parent.mkdir(parents=True, exist_ok=True)
                stored.write_text(digest, encoding="ascii")
        self._memo[entry] = digest
        return digest


PROCESS_FILE_DIGESTS = FileDigests()  # remembered for this process's life (workers pass one kept on disk)


def model_digest(folder: Path, commit: str | None, files: FileDigests) -> str:
    """`hub:<commit>` for a hub snapshot, else the folder's content digest."""
    if commit is not None:
        return f"hub:{commit}"
    return content_digest(folder, files)


def content_digest(folder: Path, files: FileDigests = PROCESS_FILE_DIGESTS) -> str:
    """`sha256:<hex>` of a local folder's weight files and its model and tokenizer configuration."""
    weights = sorted(path for path in folder.iterdir() if path.is_file() and path.suffix in WEIGHT_SUFFIXES)
    if not weights:
        raise ValueError(f"{folder}: no weight file ({', '.join(WEIGHT_SUFFIXES)}) to take a digest of")
    sha = hashlib.sha256()
    for path in weights:
        sha.update(f"{path.name}:{files.of(path)}\n".encode())
    sha.update(configuration_digest(folder).encode())
    return f"sha256:{sha.hexdigest()}"


def configuration_digest(folder: Path) -> str:
    from worker.engine.identity import StateHasher  # identity needs the quantizers, which need the model loader

    hasher = StateHasher("configuration")
    hasher.files(folder)
    return hasher.hexdigest()


def _file_sha256(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(READ_BYTES):
            sha.update(chunk)
    return sha.hexdigest()
