"""The FID Inception-v3 weights file: where it is found, how it is verified and downloaded, and how the network is
built from it (the network itself is :mod:`gankit.metrics.inception`).

The file is never shipped or pickled by us: :func:`find_weights` locates it (explicit path, then the cache
directory), optionally downloads it, and checks its SHA-256 against :data:`EXPECTED_SHA256` before anything reads
it; :func:`load_fid_inception` hashes the very bytes it then gives to ``torch.load(weights_only=True)``, which
refuses anything but tensors and plain containers, and checks every key and shape before loading. Every function
here reads :data:`EXPECTED_SHA256` and :data:`WEIGHTS_URL` from this module at call time, so that is where tests
pin their own digest.
"""
from __future__ import annotations

import hashlib
import io
import os
import tempfile
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..errors import DataError
from ._common import cache_root

if TYPE_CHECKING:
    from .inception import FIDInceptionV3

__all__ = [
    "EXPECTED_SHA256",
    "WEIGHTS_FILENAME",
    "WEIGHTS_URL",
    "default_cache_dir",
    "find_weights",
    "load_fid_inception",
    "sha256_file",
]

WEIGHTS_FILENAME = "pt_inception-2015-12-05-6726825d.pth"
WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_FILENAME
# SHA-256 of the pytorch-fid file (95,628,359 bytes). torch.hub names files NAME-<first 8 hex of SHA-256>.pth, and
# the suffix 6726825d agrees; the full digest is the one pinned for this URL by public projects that verify it
# (e.g. snap-research/discoscene models/inception_model.py), and torch-fidelity's re-hosted copy of the same file
# carries the same digest.
EXPECTED_SHA256 = "6726825d0af5f729cebd5821db510b11b1cfad8faad88a03f1befd49fb9129b2"

_CHUNK = 1 << 20  # bytes read at a time when hashing or downloading
_MAX_READ = 256 << 20  # load_fid_inception reads the file into memory only below this size (real file: ~91 MiB)


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks (constant memory)."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def default_cache_dir() -> Path:
    """Where the weights file is looked for: ``$GANKIT_CACHE/weights`` or ``~/.cache/gankit/weights``."""
    return cache_root() / "weights"


def _check_digest(path: Path, digest: str) -> None:
    # EXPECTED_SHA256 is read at call time, so tests can pin their own file's digest.
    if digest != EXPECTED_SHA256:
        raise DataError(
            f"{path}: SHA-256 is {digest}, expected {EXPECTED_SHA256} (corrupt or a different file); "
            f"delete it and download again from {WEIGHTS_URL}"
        )


def _download(target: Path) -> None:
    """Fetch :data:`WEIGHTS_URL` into a temporary file next to ``target``; rename it there only if it verifies."""
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=target.name + ".", suffix=".part", dir=target.parent)
    tmp = Path(tmp_name)
    try:
        h = hashlib.sha256()
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(WEIGHTS_URL, timeout=60) as response:  # noqa: S310 (fixed https URL)
                    while chunk := response.read(_CHUNK):
                        h.update(chunk)
                        out.write(chunk)
            except OSError as exc:  # URLError, HTTPError, timeouts are all OSErrors
                raise DataError(
                    f"could not download {WEIGHTS_URL} ({exc}); download it by hand and put it at {target}"
                ) from None
        digest = h.hexdigest()
        if digest != EXPECTED_SHA256:
            raise DataError(
                f"{WEIGHTS_URL}: downloaded file has SHA-256 {digest}, expected {EXPECTED_SHA256}; nothing was "
                f"saved; download it by hand and put it at {target}"
            )
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _locate(path: str | os.PathLike | None, cache_dir: str | os.PathLike | None, download: bool) -> Path:
    """The weights file's path (not yet verified, except a fresh download, which is verified before it lands)."""
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise DataError(f"{p}: FID Inception weights file not found; download {WEIGHTS_URL} and put it there "
                            "(or leave weights unset to use the cache)")
        return p
    cache = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    target = cache / WEIGHTS_FILENAME
    if target.is_file():
        return target
    if download:
        _download(target)
        return target
    raise DataError(
        f"FID Inception weights not found; download {WEIGHTS_URL} and put it at {target} (or pass weights=PATH)")


def find_weights(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
                 download: bool = False) -> Path:
    """Locate the FID Inception weights file and verify its SHA-256.

    Resolution order: ``path`` if given; else ``cache_dir/WEIGHTS_FILENAME`` where ``cache_dir`` defaults to
    :func:`default_cache_dir` (``$GANKIT_CACHE/weights`` or ``~/.cache/gankit/weights``); else, with
    ``download=True``, fetch :data:`WEIGHTS_URL` into that cache (into a temporary file, renamed into place only
    after its digest matches).

    Returns:
        Path of a file whose SHA-256 equals :data:`EXPECTED_SHA256`.

    Raises:
        DataError: one line: not found (with where to put it and where to get it), download failed, or digest
            mismatch (with both digests).
    """
    p = _locate(path, cache_dir, download)
    _check_digest(p, sha256_file(p))
    return p


def load_fid_inception(path: str | os.PathLike | None = None, cache_dir: str | os.PathLike | None = None,
                       download: bool = False, device: str | torch.device = "cpu") -> FIDInceptionV3:
    """Build the FID Inception-v3 with the verified pytorch-fid weights, in eval mode on ``device``.

    The file is found as in :func:`find_weights`; its bytes are read once, hashed, and only if the SHA-256 matches
    are those same bytes given to ``torch.load(..., map_location="cpu", weights_only=True)`` (so nothing in the
    file can run code, and the file cannot change between check and load). Keys and shapes are then checked by
    :func:`load_state`.

    Raises:
        DataError: one line naming the file: not found, wrong digest, refused by ``weights_only`` / unreadable,
            or a missing/unexpected/wrongly shaped key.
    """
    p = _locate(path, cache_dir, download)
    if p.stat().st_size > _MAX_READ:  # far larger than the real file: hash it streamed (it will not match)
        _check_digest(p, sha256_file(p))
    data = p.read_bytes()
    _check_digest(p, hashlib.sha256(data).hexdigest())
    try:
        state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as exc:  # UnpicklingError for forbidden globals, RuntimeError/EOFError for damaged archives
        reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]
        raise DataError(
            f"{p}: torch.load(weights_only=True) refused the file ({type(exc).__name__}: {reason}); "
            f"delete it and download again from {WEIGHTS_URL}"
        ) from None
    # Imported here, not at the top: inception.py imports this module (for load_state's message and its
    # re-exports), so a top-level import in this direction would be circular.
    from .inception import FIDInceptionV3, load_state

    model = load_state(FIDInceptionV3(), state, source=str(p))
    return model.to(device).eval()
