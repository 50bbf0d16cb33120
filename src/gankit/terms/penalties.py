"""D's terms: gradient penalties, consistency regularization and ProGAN's drift (formulas in gankit.regularizers).

Each adds ``weight · scale · every · mean(per-sample value)`` to D's loss on the updates it is due. The input-gradient
penalties (gp, dragan, r1, r2) take the gradient with respect to the images before D's augmentation, through it
(StyleGAN2-ADA, DiffAugment): ``ctx.judge`` on ``ctx.real_input`` / ``ctx.fake_input``. Consistency regularization and
drift act on D's view and D's logits.
"""
from __future__ import annotations

from typing import Any

from .. import regularizers as R
from ..augment import DiffAugment
from ..errors import ConfigError
from ..fields import option
from . import DContext, Term, register

_LAZY = "reg.lazy"  # the shared lazy interval of the input-gradient penalties


@register("gp", help="WGAN-GP: λ(‖∇D(x̂)‖ − 1)² on real/fake interpolates (Gulrajani et al. 2017)")
class GradientPenalty(Term):
    weight_key, every_key, twice, strengthen = "reg.gp", _LAZY, ("D",), True
    fields = {"reg.gp": (float, option(0.0, help="WGAN-GP gradient penalty λ on real/fake interpolates (Gulrajani et al. 2017: 10)", low=0.0)),
              "reg.gp_one_sided": (bool, option(False, help="penalize only gradient norms above 1: max(0, ‖∇‖ − 1)²"))}

    def __init__(self, cfg: Any, weight: float | None = None) -> None:
        super().__init__(cfg, weight)
        self.one_sided = bool(cfg.reg.gp_one_sided)

    def __call__(self, ctx: DContext):
        return R.gradient_penalty(ctx.judge, ctx.real_input, ctx.fake_input, ctx.c_real, one_sided=self.one_sided, group=ctx.group)


@register("dragan", help="DRAGAN: λ(‖∇D(x̃)‖ − 1)² around perturbed real data (Kodali et al. 2017)")
class DraganPenalty(Term):
    weight_key, every_key, twice, strengthen = "reg.dragan", _LAZY, ("D",), True
    fields = {"reg.dragan": (float, option(0.0, help="DRAGAN penalty λ around perturbed real data (Kodali et al. 2017: 10)", low=0.0))}

    def __call__(self, ctx: DContext):
        return R.dragan_penalty(ctx.judge, ctx.real_input, ctx.c_real, group=ctx.group)


@register("r1", help="R1: (γ/2)‖∇D(x)‖² on real data (Mescheder et al. 2018)")
class R1Penalty(Term):
    weight_key, every_key, twice, strengthen, scale = "reg.r1", _LAZY, ("D",), True, 0.5
    fields = {"reg.r1": (float, option(0.0, help="R1 γ: (γ/2)‖∇D(x)‖² on real data (Mescheder et al. 2018)", low=0.0))}

    def __call__(self, ctx: DContext):
        return R.r1_penalty(ctx.judge, ctx.real_input, ctx.c_real, group=ctx.group)


@register("r2", help="R2: (γ/2)‖∇D(G(z))‖² on generated data (Mescheder et al. 2018)")
class R2Penalty(Term):
    weight_key, every_key, twice, strengthen, scale = "reg.r2", _LAZY, ("D",), True, 0.5
    fields = {"reg.r2": (float, option(0.0, help="R2 γ: (γ/2)‖∇D(G(z))‖² on generated data", low=0.0))}

    def __call__(self, ctx: DContext):
        return R.r2_penalty(ctx.judge, ctx.fake_input, ctx.c_fake, group=ctx.group)


class _Consistency(Term):
    """Balanced consistency regularization (Zhao et al. 2020): (D(x) − D(T(x)))² with T = augment.bcr_policy, on the
    real (``side = "real"``) or the generated batch as D sees it."""

    side = "real"

    def __init__(self, cfg: Any, weight: float | None = None) -> None:
        super().__init__(cfg, weight)
        self.augment = DiffAugment(cfg.augment.bcr_policy)

    @classmethod
    def check_config(cls, cfg: Any, traits: frozenset[str]) -> None:
        if not cls.active(cfg):
            return
        if "image" not in traits:
            raise ConfigError(f"reg.bcr_real / reg.bcr_fake: consistency regularization augments images, but {cfg.data.name!r} is "
                              "not image data; set them to 0")
        if not cfg.augment.bcr_policy.strip():
            raise ConfigError("augment.bcr_policy: consistency regularization needs an augmentation T; e.g. augment.bcr_policy=flip,translation")

    def __call__(self, ctx: DContext):
        side = self.side
        return R.consistency_penalty(ctx.D, getattr(ctx, side), self.augment, getattr(ctx, f"c_{side}"), getattr(ctx, f"{side}_logits"))


@register("bcr_real", help="balanced consistency on real images: λ(D(x) − D(T(x)))² (Zhao et al. 2020)")
class ConsistencyReal(_Consistency):
    weight_key, side = "reg.bcr_real", "real"
    fields = {"reg.bcr_real": (float, option(0.0, help="balanced consistency λ on real images (Zhao et al. 2020: 10); T = augment.bcr_policy", low=0.0))}


@register("bcr_fake", help="balanced consistency on generated images: λ(D(G(z)) − D(T(G(z))))² (Zhao et al. 2020)")
class ConsistencyFake(_Consistency):
    weight_key, side = "reg.bcr_fake", "fake"
    fields = {"reg.bcr_fake": (float, option(0.0, help="balanced consistency λ on generated images (Zhao et al. 2020: 10)", low=0.0))}


@register("drift", help="ProGAN drift: ε·D(x)² keeps real scores near 0 (Karras et al. 2018)")
class Drift(Term):
    weight_key = "reg.drift"
    fields = {"reg.drift": (float, option(0.0, help="ProGAN drift ε·D(x)² on real scores (Karras et al. 2018: 0.001)", low=0.0))}

    def __call__(self, ctx: DContext):
        return R.drift_penalty(ctx.real_logits)
