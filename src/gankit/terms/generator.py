"""G's terms: feature matching and path-length regularization (``loss``), the unrolled look-ahead (``critic``) and
top-k training (``select``)."""
from __future__ import annotations

from typing import Any, Callable

import torch

from ..errors import ConfigError
from ..fields import option
from .. import regularizers as R
from . import GContext, Term, register, read
from .unrolled import unrolled_critic


def feature_matching(real_features: torch.Tensor, fake_features: torch.Tensor) -> torch.Tensor:
    """‖E f(x) − E f(G(z))‖² over the batch means of D's penultimate features, N×F each (Salimans et al. 2016, §3.1)."""
    return (real_features.mean(0) - fake_features.mean(0)).pow(2).sum()


@register("feature_matching", help="feature matching: ‖E f(x) − E f(G(z))‖² on D's penultimate features (Salimans et al. 2016)")
class FeatureMatching(Term):
    phase, weight_key, stat, needs_real = "G", "trick.feature_matching", "fm", True
    fields = {"trick.feature_matching": (float, option(0.0, help="weight of ‖E f(x) − E f(G(z))‖² on D's penultimate features added "
                                                               "to G's loss (Salimans et al. 2016)", low=0.0))}

    @classmethod
    def check_config(cls, cfg: Any, traits: frozenset[str]) -> None:
        if cls.active(cfg) and "d_embed" not in traits:
            raise ConfigError(f"trick.feature_matching: the {cfg.model.name} discriminator has no embed(x, c) features; "
                              "use model.name=mlp, dcgan, resnet or progan, or set trick.feature_matching=0")

    def __call__(self, ctx: GContext) -> torch.Tensor:
        with torch.no_grad():
            real_features = ctx.D.embed(ctx.x_real, ctx.c_real)
        return feature_matching(real_features, ctx.D.embed(ctx.x_fake, ctx.c_fake))


@register("pl", help="StyleGAN2 path-length regularization: w·(‖J_wᵀy‖ − a)² (Karras et al. 2020)")
class PathLength(Term):
    """mean (‖J_wᵀy‖ − a)² over n/2 fresh latents, a the running mean of the path lengths (decay 0.01)."""

    phase, weight_key, every_key, twice = "G", "reg.pl", "reg.pl_lazy", ("G",)
    fields = {"reg.pl": (float, option(0.0, help="StyleGAN2 path-length regularization weight on G (Karras et al. 2020: 2); needs a style-based G", low=0.0)),
              "reg.pl_lazy": (int, option(4, help="path-length regularization every this many G updates, weight × interval", low=1, high=1000))}

    def __init__(self, cfg: Any, weight: float | None = None) -> None:
        super().__init__(cfg, weight)
        self.mean = 0.0

    @classmethod
    def check_config(cls, cfg: Any, traits: frozenset[str]) -> None:
        if cls.active(cfg) and "style_based" not in traits:
            raise ConfigError(f"reg.pl: path-length regularization needs a style-based G (model.name=stylegan or stylegan2), "
                              f"not {cfg.model.name}; set reg.pl=0")

    def __call__(self, ctx: GContext) -> torch.Tensor:
        z, c = ctx.latents(max(ctx.n // 2, 1))
        lengths = R.path_lengths(ctx.G, z, c)
        self.mean += 0.01 * (lengths.mean().item() - self.mean)
        ctx.stats["pl_length"] = lengths.mean().detach()
        return (lengths - self.mean).pow(2).mean()

    def state_dict(self) -> dict[str, Any]:
        return {"pl_mean": self.mean}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean = float(state.get("pl_mean", 0.0))


@register("unroll", help="unrolled GAN: G's adversarial loss through k look-ahead D updates (Metz et al. 2017)")
class Unroll(Term):
    phase, kind, weight_key, twice, needs_real = "G", "critic", "trick.unroll", ("D",), True
    fields = {"trick.unroll": (int, option(0, help="unrolled GAN: G's loss through this many look-ahead D updates (Metz et al. 2017: 5)", low=0, high=100))}

    def __init__(self, cfg: Any, weight: float | None = None) -> None:
        super().__init__(cfg, weight)
        self.k = int(self.weight)

    def critic(self, D: Callable, ctx: GContext) -> Callable:
        return unrolled_critic(ctx.D, ctx.loss, ctx.x_real, ctx.c_real, ctx.x_fake, ctx.c_fake, self.k, ctx.d_optimizer)


@register("topk", help="top-k training: G's adversarial loss over the samples D scores most realistic (Sinha et al. 2020)")
class TopK(Term):
    """Keeps a fraction of G's N scores (packs under PacGAN) on a schedule in G steps (:meth:`count`); per process
    under DDP."""

    phase, kind, weight_key = "G", "select", "trick.topk"
    fields = {
        "trick.topk": (float, option(0.0, help="top-k training: G's adversarial loss keeps only this fraction of its batch, the samples D "
                                               "scores most realistic, annealed from 1 (Sinha et al. 2020); 0: off", low=0.0, high=1.0)),
        "trick.topk_ramp": (float, option(0.5, help="fraction of the run over which top-k's kept fraction falls linearly from 1 to "
                                                    "trick.topk (and rises back before trick.topk_stop)", low=0.0, high=1.0)),
        "trick.topk_stop": (float, option(0.0, help="fraction of the run by which top-k has ended: the kept fraction rises linearly back "
                                                    "to 1 over the trick.topk_ramp before it; 0: top-k to the end", low=0.0, high=1.0)),
    }

    def __init__(self, cfg: Any, weight: float | None = None) -> None:
        super().__init__(cfg, weight)
        steps = cfg.train.steps
        self.keep, self.ramp, self.stop = self.weight, max(round(cfg.trick.topk_ramp * steps), 1), round(cfg.trick.topk_stop * steps)

    @classmethod
    def check_config(cls, cfg: Any, traits: frozenset[str]) -> None:
        tk = cfg.trick
        if tk.topk and not tk.topk_ramp:
            raise ConfigError("trick.topk_ramp: top-k's kept fraction needs a ramp from 1 to trick.topk; use a fraction of the run in (0, 1], e.g. 0.5")
        if tk.topk and tk.topk_stop and tk.topk_stop < 2 * tk.topk_ramp:
            raise ConfigError(f"trick.topk_stop={tk.topk_stop:g}: top-k falls over {tk.topk_ramp:g} of the run and rises back over "
                              f"{tk.topk_ramp:g} more; use trick.topk_stop >= {2 * tk.topk_ramp:g} or a shorter trick.topk_ramp")
        if tk.topk_stop and not tk.topk:
            raise ConfigError("trick.topk_stop: top-k training is off; set trick.topk (the kept fraction, e.g. 0.5) or trick.topk_stop=0")

    def count(self, n: int, step: int) -> int:
        """How many of G's n scored samples the loss keeps at G step ``step``. The kept fraction falls linearly from 1
        to ``keep`` over the first ``ramp`` steps and stays there; with ``stop`` it rises linearly back to 1 over the
        ``ramp`` steps before that step. The paper decays k geometrically per epoch to a floor and never stops; the toys
        have no epochs, hence steps."""
        frac = 1.0 - (1.0 - self.keep) * min(step / self.ramp, 1.0)
        if self.stop:
            frac += (1.0 - frac) * min(max((step - (self.stop - self.ramp)) / self.ramp, 0.0), 1.0)
        return max(1, min(n, round(frac * n)))

    def select(self, fake_logits: torch.Tensor, ctx: GContext) -> torch.Tensor:
        n = fake_logits.shape[0]
        k = self.count(n, ctx.step)
        ctx.stats["topk"] = torch.tensor(k / n)
        return fake_logits.topk(k, dim=0).values


__all__ = ["feature_matching", "FeatureMatching", "PathLength", "Unroll", "TopK", "read"]
