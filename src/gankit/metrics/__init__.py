"""GAN metrics, staged: samples -> features -> statistics -> score.

Scores from features are plain functions on NumPy arrays or tensors (float64 inside)::

    fid, fid_from_stats, fid_infinity, feature_stats, kid, inception_score, precision_recall, density_coverage, prdc,
    c2st, blind_critics, mode_coverage, class_coverage, memorization, mle_dimension, twonn_dimension

Feature extractors live in :mod:`gankit.metrics.features` (registry ``extractors``); scoring samples with provenance
and cached reference features in :mod:`gankit.metrics.evaluate`; scoring a run's model and the real-vs-real floor in
:mod:`gankit.evaluation`.
"""
from .evaluate import METRICS, evaluate_samples, load_stats, save_stats
from .features import EXTRACTORS, Extractor, build_extractor, from_module
from .fid import feature_stats, fid, fid_from_stats, fid_infinity
from .inception_score import inception_score
from .kid import kid
from .memorization import memorization
from .modes import class_coverage, mode_coverage
from .ppl import DISTANCES, perceptual_path_length
from .prdc import density_coverage, prdc, precision_recall
from .two_sample import c2st
from .blind import blind_critics
from .intrinsic import mle_dimension, twonn_dimension
from .robustness import accidental_attack, fgsm_shift, pgd_shift, probe

__all__ = [
    "fid", "fid_from_stats", "fid_infinity", "feature_stats", "kid", "inception_score", "precision_recall", "density_coverage",
    "prdc", "c2st", "blind_critics", "mle_dimension", "twonn_dimension", "fgsm_shift", "pgd_shift", "accidental_attack",
    "probe", "mode_coverage", "class_coverage", "memorization", "perceptual_path_length", "DISTANCES",
    "METRICS", "EXTRACTORS", "Extractor", "build_extractor", "from_module",
    "evaluate_samples", "save_stats", "load_stats",
]
