"""Differentiable augmentation for D: DiffAugment (:mod:`.diffaugment`; Zhao et al. 2020) and adaptive
discriminator augmentation (:mod:`.ada`; Karras et al. 2020). Both are callables ``augment(x: N×C×H×W) ->
N×C×H×W`` made of differentiable tensor operations, so G's gradient flows through them; :func:`build_augment`
makes either one from the configuration. Every name is importable from ``gankit.augment`` as before the split.
"""
from __future__ import annotations

from typing import Any, Callable

import torch

from .ada import (
    ADA,
    ADA_GROUPS,
    ADA_PIPELINES,
    ADA_TRANSFORMS,
    affine,
    blit,
    color_transform,
    cutout_at,
    parse_ada_pipeline,
    rotate2d,
    rotate3d,
    scale2d,
    scale3d,
    translate2d,
    translate3d,
)
from .diffaugment import (
    TRANSFORMS,
    DiffAugment,
    brightness,
    color,
    contrast,
    cutout,
    flip,
    parse_policy,
    saturation,
    translation,
)

Tensor = torch.Tensor


def build_augment(cfg_augment: Any, batch_size: int) -> Callable[[Tensor], Tensor] | None:
    """D's augmentation from an AugmentConfig: DiffAugment(policy) if ``policy`` is set, ADA if ``ada`` is not none,
    None if neither. ``batch_size``: real images per D update (for ADA's adjustment speed)."""
    policy, mode = cfg_augment.policy, cfg_augment.ada
    if policy and mode != "none":
        raise ValueError("augment.policy and augment.ada are exclusive; set augment.policy= (empty) to use ADA "
                         "or augment.ada=none to use DiffAugment")
    if policy:
        return DiffAugment(policy)
    if mode == "none":
        return None
    if mode not in ("adaptive", "fixed"):
        raise ValueError(f"augment.ada: unknown mode {mode!r}; choose none, adaptive or fixed")
    return ADA(cfg_augment.ada_pipeline, p=cfg_augment.ada_p, target=cfg_augment.ada_target, kimg=cfg_augment.ada_kimg,
               interval=cfg_augment.ada_interval, adaptive=mode == "adaptive", batch_size=batch_size)


# brightness, saturation and contrast (DiffAugment's "color" parts) are importable but, as before, not in __all__.
__all__ = ["DiffAugment", "TRANSFORMS", "parse_policy", "color", "translation", "cutout", "flip",
           "ADA", "ADA_TRANSFORMS", "ADA_GROUPS", "ADA_PIPELINES", "parse_ada_pipeline", "build_augment",
           "blit", "affine", "color_transform", "cutout_at",
           "translate2d", "scale2d", "rotate2d", "translate3d", "scale3d", "rotate3d"]
