"""Shared helpers for the score layer: array conversion, validation and chunked nearest-neighbour queries.

Everything here works on float64 numpy arrays. Pairwise squared euclidean distances are computed in row chunks
as ``||a||² + ||b||² - 2 a·bᵀ`` (clamped at 0), so that no N×M matrix is ever held in memory: a chunk holds at
most about ``_CHUNK_ELEMENTS`` distances (128 MiB in float64) unless the caller passes ``chunk_size``.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

# Distances held per chunk when chunk_size is not given: 2**24 float64 values = 128 MiB. The matmul output,
# the np.partition copy and one boolean mask live together, so the peak is a few times this.
_CHUNK_ELEMENTS = 2**24


def to_float64(x: Any, name: str) -> np.ndarray:
    """Return ``x`` (numpy array, torch tensor or nested sequence) as a float64 numpy array.

    Torch tensors are detached and moved to the CPU first; torch is never imported here.
    """
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch.Tensor, without importing torch
        x = x.detach().cpu().double().numpy()
    try:
        return np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a numeric array; could not convert it to float64 ({exc})") from None


def as_matrix(x: Any, name: str, *, min_rows: int = 1, dim: int | None = None) -> np.ndarray:
    """Validate and convert a feature matrix.

    Args:
        x: array-like of shape (N, D).
        name: argument name used in error messages.
        min_rows: smallest allowed N.
        dim: required D, or None for any.

    Returns:
        float64 array of shape (N, D), C-contiguous.

    Raises:
        ValueError: one line naming the argument, the expected shape and what was given.
    """
    arr = to_float64(x, name)
    want_d = "D" if dim is None else str(dim)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array of shape (N, {want_d}); got shape {tuple(arr.shape)}")
    if arr.shape[0] < min_rows:
        raise ValueError(
            f"{name} must have shape (N, {want_d}) with N >= {min_rows}; got shape {tuple(arr.shape)}"
        )
    if arr.shape[1] < 1 or (dim is not None and arr.shape[1] != dim):
        raise ValueError(f"{name} must have shape (N, {want_d}); got shape {tuple(arr.shape)}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or inf values; features must be finite")
    return np.ascontiguousarray(arr)


def check_same_dim(a: np.ndarray, b: np.ndarray, name_a: str, name_b: str) -> None:
    """Raise a one-line ValueError when two (N, D) matrices differ in D."""
    if a.shape[1] != b.shape[1]:
        raise ValueError(
            f"{name_a} and {name_b} must have the same feature dimension D; "
            f"got {name_a} {tuple(a.shape)} and {name_b} {tuple(b.shape)}"
        )


def rows_per_chunk(n_rows: int, n_cols: int, chunk_size: int | None) -> int:
    """Rows of an (n_rows × n_cols) distance matrix to compute at once (at least 1, at most n_rows)."""
    if chunk_size is None:
        chunk_size = max(1, _CHUNK_ELEMENTS // max(n_cols, 1))
    elif int(chunk_size) < 1:
        raise ValueError(f"chunk_size must be a positive integer (rows per chunk) or None; got {chunk_size}")
    return int(max(1, min(int(chunk_size), n_rows)))


def sq_norms(x: np.ndarray) -> np.ndarray:
    """Squared euclidean norm of each row: (N, D) -> (N,)."""
    return np.einsum("ij,ij->i", x, x)


def sq_dist_chunks(
    a: np.ndarray,
    b: np.ndarray,
    chunk_size: int | None = None,
    a_sq: np.ndarray | None = None,
    b_sq: np.ndarray | None = None,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """Yield ``(start, stop, D)`` where D[i, j] = ||a[start + i] - b[j]||², shape (stop - start, M).

    Args:
        a: (N, D) float64. b: (M, D) float64.
        chunk_size: rows of ``a`` per chunk (None: about 2**24 distances per chunk).
        a_sq, b_sq: precomputed squared row norms, shapes (N,) and (M,).

    The chunk is computed in place from one matmul and clamped at 0 (the expansion can go slightly negative).
    """
    a_sq = sq_norms(a) if a_sq is None else a_sq
    b_sq = sq_norms(b) if b_sq is None else b_sq
    step = rows_per_chunk(a.shape[0], b.shape[0], chunk_size)
    for start in range(0, a.shape[0], step):
        stop = min(start + step, a.shape[0])
        d = a[start:stop] @ b.T
        d *= -2.0
        d += a_sq[start:stop, None]
        d += b_sq[None, :]
        np.maximum(d, 0.0, out=d)
        yield start, stop, d


def knn_sq_dists(x: np.ndarray, k: int, chunk_size: int | None = None, name: str = "x") -> np.ndarray:
    """Squared distances from each row of ``x`` to its k nearest *other* rows, sorted ascending.

    Args:
        x: (N, D) float64 with N > k.
        k: number of neighbours (>= 1); the point itself is excluded (its distance is set to +inf),
           so an exact duplicate of a point counts as a neighbour at distance 0.

    Returns:
        (N, k) float64; column k-1 is the squared k-NN radius.
    """
    n = x.shape[0]
    if k < 1 or n <= k:
        raise ValueError(f"k must satisfy 1 <= k < N for {name} of shape {tuple(x.shape)}; got k={k}")
    out = np.empty((n, k), dtype=np.float64)
    x_sq = sq_norms(x)
    for start, stop, d in sq_dist_chunks(x, x, chunk_size, x_sq, x_sq):
        rows = np.arange(stop - start)
        d[rows, start + rows] = np.inf  # exclude the point itself
        part = np.partition(d, k - 1, axis=1)[:, :k]
        part.sort(axis=1)
        out[start:stop] = part
    return out


def nearest_sq_dist(
    a: np.ndarray, b: np.ndarray, chunk_size: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """For each row of ``a`` (N, D): squared distance to, and index of, its nearest row in ``b`` (M, D).

    The squared distance is recomputed exactly as ``sum((a_i - b_j)²)`` for the chosen neighbour, so an exact
    copy gives exactly 0 (the chunked expansion alone can leave ~1e-12 residue).

    Returns:
        (sq_dist (N,), index (N,) int64).
    """
    idx = np.empty(a.shape[0], dtype=np.int64)
    dist = np.empty(a.shape[0], dtype=np.float64)
    b_sq = sq_norms(b)
    for start, stop, d in sq_dist_chunks(a, b, chunk_size, b_sq=b_sq):
        nearest = np.argmin(d, axis=1)
        idx[start:stop] = nearest
        dist[start:stop] = sq_norms(a[start:stop] - b[nearest])
    return dist, idx


def cache_root() -> Path:
    """gankit's on-disk cache: ``$GANKIT_CACHE`` or ``~/.cache/gankit`` (extractors/, reference/, weights/)."""
    root = os.environ.get("GANKIT_CACHE")
    return Path(root).expanduser() if root else Path.home() / ".cache" / "gankit"
