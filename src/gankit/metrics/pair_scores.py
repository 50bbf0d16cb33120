"""Scoring restored images: ``gankit evaluate RUN --metrics restoration,hole,fid``, training-time evaluation and
``evaluate_samples`` for data of schema ``pairs``.

Restored samples arrive in the order of the fixed test pairs (:func:`gankit.data.photos.eval_pairs` of the run's data
config, the first N with the evaluation seed); the targets are rebuilt from the same call, so nothing but the
outputs has to travel.

=========== ============================================================================== ==============================
metric      values                                                                         convention
=========== ============================================================================== ==============================
restoration psnr_y (primary), ssim_y: on the BT.601 Y channel with a border crop equal to   the SR papers (MATLAB / BasicSR
            the scale (0 for inpainting); psnr_rgb, ssim_rgb: all channels, same crop       ``calculate_psnr/ssim``)
hole        hole_l1 (mean |error| over the hole, [-1, 1] units), hole_psnr (PSNR over the   inpainting (Pathak et al. 2016;
            hole's pixels, 8-bit)                                                          Yu et al. 2019)
fid, kid,   between restored and target patches, features of the extractor (schema        Heusel et al. 2017 etc.
pr, dc      default ``vgg19-random``; ``vgg19`` or ``inception-v3-fid`` with weights)
=========== ============================================================================== ==============================
"""
from __future__ import annotations

import math
from typing import Any

import torch

from ..data import build_dataset
from ..data.images import quantize
from ..data.photos import eval_pairs
from ..errors import ConfigError
from ..version import __version__
from .restoration import restoration_scores, to_uint8_range


def hole_scores(restored: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    """Errors over the hole only: mean absolute error in [-1, 1] units and PSNR (dB, 8-bit) over all hole pixels of all
    images (restored, target N×C×H×W in [-1, 1]; mask N×1×H×W, 1 in the hole)."""
    m = mask.bool().expand_as(target)
    if not m.any():
        return {"hole_l1": math.nan, "hole_psnr": math.nan}
    l1 = float((restored.float() - target.float()).abs()[m].mean())
    a, b = to_uint8_range(restored)[m].double(), to_uint8_range(target)[m].double()
    mse = float((a - b).pow(2).mean())
    return {"hole_l1": l1, "hole_psnr": math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)}


VALUES = {"restoration": {"psnr_y": True, "ssim_y": True, "psnr_rgb": True, "ssim_rgb": True},
          "hole": {"hole_l1": False, "hole_psnr": True}}


def register(metrics: Any, metric_cls: Any) -> None:
    """Put the restoration metrics into the METRICS registry (called by gankit.metrics.evaluate)."""
    def unusable(i: Any) -> dict[str, float]:
        raise ConfigError("restoration metrics score restored photos against their targets; evaluate a superres or inpaint run")

    metrics.register("restoration", metric_cls(unusable, dict(VALUES["restoration"]), ("pairs",)),
                     help="restored photos: PSNR / SSIM on the Y channel with a border crop = the scale (SR papers' convention) and on RGB")
    metrics.register("hole", metric_cls(unusable, dict(VALUES["hole"]), ("pairs",)),
                     help="inpainting: mean absolute error and PSNR over the hole's pixels")


def evaluate_pairs(fake: torch.Tensor, info: Any, data_cfg: Any, metrics: list[str], metric_fns: Any, inputs_cls: Any, *,
                   extractor: Any = None, seed: int = 0) -> dict[str, Any]:
    """Score restored test pairs (N×C×H×W in [-1, 1], in eval_pairs order) against their targets; a flat dict with provenance."""
    pairs = eval_pairs(build_dataset(data_cfg, "test"), len(fake), seed)
    target, mask = pairs["x"], pairs.get("mask")
    fake = quantize(fake.float().clamp(-1, 1))
    result: dict[str, Any] = {}
    crop = int(info.pairs["scale"]) if info.pairs["degrade"] == "bicubic" else 0
    if "restoration" in metrics:
        result.update(restoration_scores(fake, target, scale_crop=crop))
    if "hole" in metrics:
        if mask is None:
            raise ConfigError("--metrics hole: scores inpainting; this run's data has no holes (data.degrade=bicubic)")
        result.update(hole_scores(fake, target, mask))
    feature_metrics = [m for m in metrics if m not in VALUES]
    if feature_metrics:
        if extractor is None:
            from .features import build_extractor

            extractor = build_extractor(info.extractor_name)
        real_f, fake_f = extractor(target)["features"], extractor(fake)["features"]
        inputs = inputs_cls(real_f, fake_f, fake, info, seed)
        for m in feature_metrics:
            result.update({k: float(v) for k, v in metric_fns.get(m).fn(inputs).items()})
        result.update(extractor.provenance())
    result.update({"metrics": list(metrics), "n_fake": int(len(fake)), "n_real": int(len(target)), "fake_8bit": True,
                   "reference": f"{data_cfg.name}/test pairs (seed {seed})", "border_crop": crop, "seed": seed,
                   "gankit_version": __version__})
    return result


__all__ = ["VALUES", "evaluate_pairs", "hole_scores", "register"]
