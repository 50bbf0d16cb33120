"""Fréchet Inception Distance on feature arrays (Heusel et al., 2017, "GANs Trained by a Two Time-Scale Update
Rule Converge to a Local Nash Equilibrium", NeurIPS).

    FID = ||mu1 - mu2||² + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2})

Two stages, both pure functions: :func:`feature_stats` turns features (N, D) into (mu, sigma) and
:func:`fid_from_stats` turns two such pairs into the score. :func:`fid` chains them.

FID of N samples is biased upward by about k/N, with k depending on the model (Chong & Forsyth, 2020):
:func:`fid_infinity` measures FID on subsets of several sizes and extrapolates the line in 1/N to N = ∞.

How the trace term is computed, and why. S1 S2 is not symmetric, so the usual ``scipy.linalg.sqrtm(S1 @ S2)``
(pytorch-fid, clean-fid) goes through a complex Schur decomposition, is slow at D=2048 and returns complex
noise or NaN when the covariances are singular (N < D). Here we use that for any factor F with S1 = F Fᵀ,

    tr((S1 S2)^{1/2}) = tr((Fᵀ S2 F)^{1/2})

(S1 S2 = F (Fᵀ S2) and (Fᵀ S2) F have the same non-zero eigenvalues), and Fᵀ S2 F is symmetric PSD, so the trace
is the sum of the square roots of its eigenvalues from the symmetric solver ``eigvalsh``. Two factors are used:

- ``method="eigh"``: F = A = S1^{1/2} from a symmetric eigendecomposition (negative eigenvalues clipped to 0).
  Works for every symmetric input, singular or not.
- ``method="auto"`` (default): F = the Cholesky factor L of S1 when the Cholesky decomposition succeeds (S1
  numerically positive definite, the usual case N > D); the factorisation is ~10x cheaper than ``eigh`` at D=2048
  (the whole score about 2x) and backward
  stable (L Lᵀ = S1 + E with ||E|| ~ eps·||S1||), so the result agrees with the ``eigh`` route to rounding.
  When it fails (singular S1, N <= D, or an invalid input) the ``eigh`` route is used.

Everything stays real and float64.

Negative eigenvalues. Both eigenvalue sets are clipped at 0 before the square root. Rounding alone produces
negatives of size about ``eps · λ_max`` times a small factor (≈1e-13 relative for float64 statistics, ≈1e-7 for
statistics accumulated in float32, e.g. a cached float32 ``.npz``). A negative eigenvalue with
``|λ| > neg_eig_tol · λ_max`` (default 1e-6, relative to the largest eigenvalue magnitude of the same matrix) is not
rounding: the input was not a covariance matrix. It is still clipped, and a ``RuntimeWarning`` reports how many and
the largest magnitude.
"""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from ._common import as_matrix, check_same_dim, to_float64

_DEFAULT_NEG_EIG_TOL = 1e-6
_SUBSET_BUDGET = 20_000  # FID∞: default repeats × n_max, generated features drawn per subset size


def feature_stats(feats: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of features, the statistics FID compares.

    Args:
        feats: (N, D) array or tensor, N >= 2.

    Returns:
        (mu, sigma): float64 arrays of shape (D,) and (D, D); sigma is the unbiased covariance
        (ddof=1, as pytorch-fid's ``np.cov(rowvar=False)``), exactly symmetric.
    """
    x = as_matrix(feats, "feats", min_rows=2)
    mu = x.mean(axis=0)
    xc = x - mu
    sigma = xc.T @ xc  # numpy runs a matrix times its own transpose as a symmetric rank-k update (half the flops)
    sigma /= x.shape[0] - 1
    sigma = 0.5 * (sigma + sigma.T)
    return mu, sigma


def _clip_eigenvalues(w: np.ndarray, what: str, neg_eig_tol: float) -> np.ndarray:
    """Clip eigenvalues at 0; warn when a negative one is larger than rounding (see module docstring)."""
    scale = float(np.max(np.abs(w))) if w.size else 0.0
    bad = w < -neg_eig_tol * scale
    if scale > 0 and bad.any():
        warnings.warn(
            f"fid: {int(bad.sum())} negative eigenvalue(s) of {what} clipped to 0, largest magnitude "
            f"{float(-w.min()):.3g} (> {neg_eig_tol:g} x largest eigenvalue {scale:.3g}); "
            "the covariance inputs are not positive semi-definite",
            RuntimeWarning,
            stacklevel=3,
        )
    return np.clip(w, 0.0, None)


def _check_method(method: str) -> None:
    if method not in ("auto", "eigh"):
        raise ValueError(f"method must be 'auto' or 'eigh'; got {method!r}")


def trace_sqrt_product(
    sigma1: np.ndarray,
    sigma2: np.ndarray,
    neg_eig_tol: float = _DEFAULT_NEG_EIG_TOL,
    method: str = "auto",
) -> float:
    """tr((S1 S2)^{1/2}) = Σ sqrt(eigvalsh(Fᵀ S2 F)) with S1 = F Fᵀ, for symmetric PSD S1, S2 of shape (D, D).

    Args:
        sigma1, sigma2: validated, float64, symmetric (D, D) matrices.
        neg_eig_tol: relative size above which a clipped negative eigenvalue triggers a RuntimeWarning.
        method: "auto" (Cholesky factor of S1, falling back to "eigh" when S1 is not positive definite) or
            "eigh" (F = S1^{1/2} from a symmetric eigendecomposition). See the module docstring.

    Returns:
        A real, non-negative float.
    """
    _check_method(method)
    return _trace_sqrt_factored(_sqrt_factor(sigma1, neg_eig_tol, method), sigma2, neg_eig_tol)


def _sqrt_factor(sigma1: np.ndarray, neg_eig_tol: float, method: str) -> np.ndarray:
    """A (D, D) factor F with S1 = F Fᵀ: Cholesky L ("auto", when it succeeds), else S1^{1/2} by eigh."""
    if method == "auto":
        try:
            return np.linalg.cholesky(sigma1)  # lower triangular L, S1 = L Lᵀ
        except np.linalg.LinAlgError:
            pass
    w, v = np.linalg.eigh(sigma1)
    w = _clip_eigenvalues(w, "sigma1", neg_eig_tol)
    return (v * np.sqrt(w)) @ v.T  # S1^{1/2}, symmetric


def _trace_sqrt_factored(factor: np.ndarray, sigma2: np.ndarray, neg_eig_tol: float) -> float:
    """tr((S1 S2)^{1/2}) = Σ sqrt(eigvalsh(Fᵀ S2 F)) for a factor F of S1 (D, D) and S2 (D, D)."""
    m = factor.T @ sigma2 @ factor
    m = 0.5 * (m + m.T)  # remove rounding asymmetry before the symmetric solver
    ev = np.linalg.eigvalsh(m)
    ev = _clip_eigenvalues(ev, "F.T @ sigma2 @ F (S1 = F F.T)", neg_eig_tol)
    return float(np.sqrt(ev).sum())


def _fid_factored(mu1: np.ndarray, trace1: float, factor1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                  neg_eig_tol: float) -> float:
    """FID from S1's trace and factor (S1 = F Fᵀ), so that a fixed reference is factored once; validated inputs."""
    diff = mu1 - mu2
    value = float(diff @ diff) + trace1 + float(np.trace(sigma2)) - 2.0 * _trace_sqrt_factored(factor1, sigma2, neg_eig_tol)
    return max(value, 0.0)


def _as_stats(mu: Any, sigma: Any, i: int) -> tuple[np.ndarray, np.ndarray]:
    mu_a = to_float64(mu, f"mu{i}")
    sigma_a = to_float64(sigma, f"sigma{i}")
    if mu_a.ndim != 1 or mu_a.size < 1:
        raise ValueError(f"mu{i} must be a 1-D array of shape (D,); got shape {tuple(mu_a.shape)}")
    d = mu_a.shape[0]
    if sigma_a.shape != (d, d):
        raise ValueError(f"sigma{i} must have shape (D, D) = ({d}, {d}) to match mu{i}; got {tuple(sigma_a.shape)}")
    if not (np.isfinite(mu_a).all() and np.isfinite(sigma_a).all()):
        raise ValueError(f"mu{i} and sigma{i} must be finite; got NaN or inf")
    scale = float(np.max(np.abs(sigma_a))) if sigma_a.size else 0.0
    if float(np.max(np.abs(sigma_a - sigma_a.T))) > 1e-5 * scale:
        raise ValueError(f"sigma{i} must be a symmetric (D, D) covariance matrix; it is not symmetric")
    return mu_a, 0.5 * (sigma_a + sigma_a.T)


def fid_from_stats(
    mu1: Any,
    sigma1: Any,
    mu2: Any,
    sigma2: Any,
    *,
    neg_eig_tol: float = _DEFAULT_NEG_EIG_TOL,
    method: str = "auto",
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2) (Heusel et al., 2017).

        FID = ||mu1 - mu2||² + tr(S1) + tr(S2) - 2 tr((S1 S2)^{1/2})

    Args:
        mu1, mu2: means, shape (D,).
        sigma1, sigma2: covariances, shape (D, D), symmetric PSD (singular is fine).
        neg_eig_tol: relative size above which a clipped negative eigenvalue triggers a RuntimeWarning.
        method: how S1 is factored for the trace term: "auto" (Cholesky, else eigh) or "eigh"; see module docstring.

    Returns:
        The distance in squared feature units, float >= 0 (rounding below 0 is clamped to 0).
        tr(S1), tr(S2) are taken from the inputs as given; only the square-root term sees clipped eigenvalues.
    """
    _check_method(method)
    m1, s1 = _as_stats(mu1, sigma1, 1)
    m2, s2 = _as_stats(mu2, sigma2, 2)
    if m1.shape != m2.shape:
        raise ValueError(f"mu1 and mu2 must have the same dimension D; got {m1.shape[0]} and {m2.shape[0]}")
    return _fid_factored(m1, float(np.trace(s1)), _sqrt_factor(s1, neg_eig_tol, method), m2, s2, neg_eig_tol)


def fid(
    real_feats: Any, fake_feats: Any, *, neg_eig_tol: float = _DEFAULT_NEG_EIG_TOL, method: str = "auto"
) -> float:
    """FID between two feature sets (Heusel et al., 2017).

    Equals ``fid_from_stats(*feature_stats(real_feats), *feature_stats(fake_feats))``.

    Args:
        real_feats: (N1, D), N1 >= 2. fake_feats: (N2, D), N2 >= 2. Arrays or tensors; computed in float64.
        neg_eig_tol, method: as in :func:`fid_from_stats`.

    Returns:
        FID as a float >= 0 in squared feature units. FID(X, X) = 0 up to rounding.
    """
    _check_method(method)
    real = as_matrix(real_feats, "real_feats", min_rows=2)
    fake = as_matrix(fake_feats, "fake_feats", min_rows=2)
    check_same_dim(real, fake, "real_feats", "fake_feats")
    mu1, s1 = feature_stats(real)
    mu2, s2 = feature_stats(fake)
    return fid_from_stats(mu1, s1, mu2, s2, neg_eig_tol=neg_eig_tol, method=method)


# --------------------------------------------------------------------------- FID∞: FID extrapolated to N = ∞


def fid_infinity_fit(ns: Any, fids: Any) -> tuple[float, float]:
    """Least-squares line FID_N = FID∞ + slope / N through measured (N, FID_N) pairs (Chong & Forsyth, 2020).

    Args:
        ns: (P,) sample counts N, P >= 2 with at least two distinct values, all > 0.
        fids: (P,) FID measured at each N.

    Returns:
        (fid_inf, slope): the intercept at 1/N = 0 (squared feature units) and the slope k (squared feature units
        times samples); the bias of FID_N is about k / N. Exact for input that lies on a line in 1/N.
    """
    n = to_float64(ns, "ns").ravel()
    f = to_float64(fids, "fids").ravel()
    if n.shape != f.shape:
        raise ValueError(f"ns and fids must have the same length; got {n.size} and {f.size}")
    if not (np.isfinite(n).all() and np.isfinite(f).all()) or (n <= 0).any():
        raise ValueError("ns must be finite and > 0 and fids finite")
    if np.unique(n).size < 2:
        raise ValueError(f"ns must hold at least two distinct sample counts to fit a line; got {np.unique(n).tolist()}")
    design = np.stack([np.ones_like(n), 1.0 / n], axis=1)  # (P, 2): intercept, 1/N
    (intercept, slope), *_ = np.linalg.lstsq(design, f, rcond=None)
    return float(intercept), float(slope)


def fid_infinity_sizes(n_max: int, dim: int, n_points: int = 15, n_min: int | None = None) -> np.ndarray:
    """The subset sizes N at which :func:`fid_infinity` measures FID_N: ``n_points`` evenly spaced from n_min to n_max.

    Args:
        n_max: the largest subset (usually every generated sample).
        dim: the feature dimension D.
        n_points: how many sizes (>= 2); repeated sizes after rounding down to integers are dropped.
        n_min: the smallest subset; default ``max(n_max // 10, min(2 * D, n_max // 2))``: a tenth of the samples as
            in the paper (5,000 of 50,000), but at least 2·D where the samples allow (the paper's 5,000 is 2.4 D for
            Inception's D = 2,048; near N ≈ D the bias is no longer linear in 1/N and the line overshoots) and at
            most half the samples (so that the fit spans a factor of at least 2 in N). For the paper's setting it
            gives 5,000; for 359 samples of 128-d features, 179.

    Returns:
        (P,) int64 sizes, increasing, 2 <= N <= n_max.
    """
    n_max, dim, n_points = int(n_max), int(dim), int(n_points)
    if n_points < 2:
        raise ValueError(f"n_points must be >= 2 to fit a line; got {n_points}")
    if n_min is None:
        n_min = max(n_max // 10, min(2 * dim, n_max // 2))
    n_min = int(n_min)
    if not 2 <= n_min < n_max:
        raise ValueError(f"fid_infinity needs 2 <= n_min < n_max; got n_min={n_min}, n_max={n_max} "
                         f"(FID∞ extrapolates from subsets of the generated features: give more of them)")
    return np.unique(np.linspace(n_min, n_max, n_points).astype(np.int64))


def fid_infinity_from_stats(
    mu: Any,
    sigma: Any,
    fake_feats: Any,
    *,
    n_points: int = 15,
    n_min: int | None = None,
    n_max: int | None = None,
    repeats: int | None = None,
    seed: int = 0,
    method: str = "auto",
) -> tuple[float, float]:
    """FID∞ of generated features against reference statistics (mu (D,), sigma (D, D)); see :func:`fid_infinity`."""
    _check_method(method)
    fake = as_matrix(fake_feats, "fake_feats", min_rows=3)
    mu_r, sigma_r = _as_stats(mu, sigma, 1)
    if mu_r.shape[0] != fake.shape[1]:
        raise ValueError(f"the reference statistics have D={mu_r.shape[0]} but fake_feats has D={fake.shape[1]}")
    n_max = fake.shape[0] if n_max is None else int(n_max)
    if n_max > fake.shape[0]:
        raise ValueError(f"n_max={n_max} is larger than the {fake.shape[0]} generated features")
    ns = fid_infinity_sizes(n_max, fake.shape[1], n_points, n_min)
    if repeats is None:
        repeats = min(100, -(-_SUBSET_BUDGET // n_max))
    if int(repeats) < 1:
        raise ValueError(f"repeats must be a positive integer; got {repeats}")
    trace_r, factor_r = float(np.trace(sigma_r)), _sqrt_factor(sigma_r, _DEFAULT_NEG_EIG_TOL, method)  # once, not per subset
    rng = np.random.default_rng(seed)
    fids = [
        np.mean([
            _fid_factored(mu_r, trace_r, factor_r, *feature_stats(fake[rng.choice(fake.shape[0], n, replace=False)]),
                          _DEFAULT_NEG_EIG_TOL)
            for _ in range(int(repeats))
        ])
        for n in ns
    ]
    return fid_infinity_fit(ns, fids)


def fid_infinity(
    real_feats: Any,
    fake_feats: Any,
    *,
    n_points: int = 15,
    n_min: int | None = None,
    n_max: int | None = None,
    repeats: int | None = None,
    seed: int = 0,
    method: str = "auto",
) -> tuple[float, float]:
    """Effectively unbiased FID: FID_N extrapolated to N = ∞ (Chong & Forsyth, 2020, "Effectively Unbiased FID and
    Inception Score and where to find them", CVPR; procedure as in their code, mchong6/FID_IS_infinity).

    FID_N, the FID of N generated samples, is biased upward by about k/N, and k depends on the generator, so FIDs
    of two models at a small N may rank them wrongly. For each of the sizes N of :func:`fid_infinity_sizes`
    (``n_points`` evenly spaced in [n_min, n_max]; the paper: 15 from 5,000 to 50,000) ``repeats`` random subsets of
    N generated features are drawn without replacement (one seeded generator for all) and their FIDs against the
    fixed reference averaged into FID_N; the least-squares line FID_N = FID∞ + k/N (:func:`fid_infinity_fit`) is
    extrapolated to 1/N = 0.

    The paper draws one subset per size, from 50,000 samples. From a few hundred, the choice of subsets moves the
    extrapolated value by a good part of the bias it removes (359 digits test images, 128-d features, FID_359 17.9,
    FID∞ about 8: spread over seeds with std 5.7 at one subset per size, 1.6 at 10, about 1 at 50), so by default
    each size averages ``ceil(20,000 / n_max)`` subsets (at most 100): 1 for the paper's 50,000 samples, 10 for
    2,000, 56 for 359.

    Only the generated side is extrapolated, as in the paper: the reference's own finite-sample bias (from
    N_ref = len(real_feats)) stays in FID∞, the same for every model scored against the same reference, so compare
    FID∞ values only against the same reference features.

    Args:
        real_feats: (N_ref, D) reference features, N_ref >= 2, used whole.
        fake_feats: (N, D) generated features, N >= 3.
        n_points, n_min: the subset sizes, see :func:`fid_infinity_sizes` (default n_min
            ``max(N // 10, min(2 D, N // 2))``).
        n_max: the largest subset; default N (all generated features).
        repeats: subsets averaged per size; default ``min(100, ceil(20,000 / n_max))``.
        seed: seed of the subset sampler (``np.random.default_rng``).
        method: the FID trace route, as in :func:`fid_from_stats`.

    Returns:
        (fid_inf, slope): FID∞ in squared feature units (can fall slightly below 0 when the two distributions are
        equal, since it is an extrapolation), and the fitted k (bias of FID_N ≈ k / N).
    """
    real = as_matrix(real_feats, "real_feats", min_rows=2)
    fake = as_matrix(fake_feats, "fake_feats", min_rows=3)
    check_same_dim(real, fake, "real_feats", "fake_feats")
    mu, sigma = feature_stats(real)
    return fid_infinity_from_stats(mu, sigma, fake, n_points=n_points, n_min=n_min, n_max=n_max, repeats=repeats,
                                   seed=seed, method=method)
