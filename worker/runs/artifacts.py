"""Unlearned models between machines: the worker that made one uploads its folder to the artifact store with a
manifest (each file's size and sha256, written last); a worker elsewhere downloads it into its own
checkpoint_dir and checks every file against the manifest before anything loads it.

Without ARTIFACT_URL nothing moves: the folder in checkpoint_dir is the model (one machine).
"""

import hashlib
import json
import posixpath
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from fsspec import AbstractFileSystem

from service.artifacts import artifact_store, audit_checkpoint_dir
from service.audits.repository import existing_audit_ids
from service.config import Settings
from service.db import session_scope

MANIFEST = "manifest.json"
CHUNK = 1024 * 1024
AUDIT_FOLDER = re.compile(r"[0-9a-f]{32}")


class ArtifactError(RuntimeError):
    """A stored model that is missing, incomplete or altered; the message names the model and the file."""


def publish(settings: Settings, audit_id: str, name: str, folder: Path) -> str:
    """Upload the folder a run saved; returns where the audit's record says the model is."""
    store = artifact_store(settings)
    if store is None:
        return str(folder)
    fs, root = store
    remote = f"{root}/{audit_id}/{name}"
    manifest = folder_manifest(folder)
    fs.invalidate_cache(remote)
    if fs.exists(remote):
        fs.rm(remote, recursive=True)
    for relative in manifest["files"]:
        fs.makedirs(posixpath.dirname(f"{remote}/{relative}"), exist_ok=True)  # a local folder needs it, S3 ignores it
        fs.put_file(str(folder / relative), f"{remote}/{relative}")
    encoded = manifest_bytes(manifest)
    fs.pipe_file(f"{remote}/{MANIFEST}", encoded)  # last: a manifest in the store means a complete upload
    (folder / MANIFEST).write_bytes(encoded)  # this machine's copy is verified already
    return f"{settings.artifact_url}/{audit_id}/{name}"


def local_copy(settings: Settings, audit_id: str, name: str) -> Path:
    """The folder of the audit's unlearned model `name` on this machine, downloaded and checked when needed."""
    folder = audit_checkpoint_dir(settings, audit_id) / name
    store = artifact_store(settings)
    if store is None:
        return folder
    fs, root = store
    remote = f"{root}/{audit_id}/{name}"
    encoded = stored_manifest(fs, remote, name)
    local = folder / MANIFEST
    if local.is_file() and local.read_bytes() == encoded and sizes_match(folder, json.loads(encoded)):
        return folder
    download(fs, remote, name, json.loads(encoded), folder)
    local.write_bytes(encoded)
    return folder


def prefetch(settings: Settings, audit_id: str, name: str) -> None:
    """Download the audit's model `name` when the store has it, before a run opens its database session (a 7B
    model takes minutes); the path checks then find the copy in place. Nothing for other models."""
    store = artifact_store(settings)
    if store is None:
        return
    fs, root = store
    if fs.exists(f"{root}/{audit_id}/{name}/{MANIFEST}"):
        local_copy(settings, audit_id, name)


def remove_copies_of_deleted_audits(settings: Settings) -> None:
    """This machine's copies of the models of audits deleted meanwhile (the API deletes the store's prefix
    and its own machine's folder, not the copies other workers downloaded)."""
    root = audit_checkpoint_dir(settings, "")
    folders = [path.name for path in root.iterdir() if AUDIT_FOLDER.fullmatch(path.name)] if root.is_dir() else []
    if not folders:
        return
    with session_scope(settings.sqlalchemy_url) as session:
        kept = existing_audit_ids(session, folders)
    for name in folders:
        if name not in kept:
            shutil.rmtree(root / name, ignore_errors=True)


def stored_manifest(fs: AbstractFileSystem, remote: str, name: str) -> bytes:
    try:
        return bytes(fs.cat_file(f"{remote}/{MANIFEST}"))
    except FileNotFoundError:
        raise ArtifactError(f"unlearned model '{name}': not in the artifact store (no {MANIFEST})") from None


def download(fs: AbstractFileSystem, remote: str, name: str, manifest: dict, folder: Path) -> None:
    """Into a temporary folder beside `folder`, renamed into place once every file matches the manifest."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}.download-", dir=folder.parent))
    try:
        for relative, expected in manifest["files"].items():
            target = partial / safe_relative(relative, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                received = fetch_file(fs, f"{remote}/{relative}", target)
            except FileNotFoundError:
                raise ArtifactError(f"unlearned model '{name}': {relative} is missing from the store") from None
            if received != expected:
                raise ArtifactError(f"unlearned model '{name}': {relative} differs from its manifest (size or sha256)")
        if folder.exists():
            shutil.rmtree(folder)
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def fetch_file(fs: AbstractFileSystem, remote: str, target: Path) -> dict:
    """Copy one file, hashing it on the way (read once); returns its manifest entry."""
    digest = hashlib.sha256()
    with fs.open(remote, "rb") as source, target.open("wb") as sink:
        while chunk := source.read(CHUNK):
            digest.update(chunk)
            sink.write(chunk)
    return {"size": target.stat().st_size, "sha256": digest.hexdigest()}


def safe_relative(relative: str, name: str) -> PurePosixPath:
    path = PurePosixPath(relative)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise ArtifactError(f"unlearned model '{name}': the manifest names a file outside its folder ({relative})")
    return path


def folder_manifest(folder: Path) -> dict:
    files = sorted(path for path in folder.rglob("*") if path.is_file() and path.name != MANIFEST)
    return {"files": {path.relative_to(folder).as_posix(): file_entry(path) for path in files}}


def manifest_bytes(manifest: dict) -> bytes:
    return json.dumps(manifest, indent=1, sort_keys=True).encode("utf-8")


def file_entry(path: Path) -> dict:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return {"size": path.stat().st_size, "sha256": digest.hexdigest()}


def sizes_match(folder: Path, manifest: dict) -> bool:
    """The cheap check of a copy verified on download: every file there, at its size."""
    return all(
        (folder / relative).is_file() and (folder / relative).stat().st_size == entry["size"]
        for relative, entry in manifest["files"].items()
    )
