"""Terms: the named, registered pieces a phase's loss is made of.

A phase's loss is its main objective (for a GAN: the adversarial loss of gankit.losses) plus a sum of **terms**.
Each term is one class registered in :data:`TERMS` that declares, in one place, everything the rest of gankit needs
to know about it:

* ``phase`` — the phase it belongs to (``D`` or ``G`` for the GAN task);
* ``fields`` — the config fields it adds, e.g. ``{"reg.r1": (float, option(0.0, ...))}``: the ``reg`` and ``trick``
  sections are built from these, so ``reg.r1=10``, ``gankit list --config`` and validation come with the term;
* ``weight_key`` (its weight or switch; 0 is off), ``every_key`` (a lazy interval: evaluated every that many updates
  of its phase, with its weight multiplied by the interval, StyleGAN2 §B) and ``scale`` (½ for R1's γ/2);
* ``twice`` — networks it differentiates twice (torch.compile leaves them eager); ``strengthen`` — a gradient
  penalty the divergence guard may switch on or raise after a rollback; ``needs_real`` — reads the real batch in G's
  phase.

Three kinds, by how they enter the loss:

* ``loss`` (the default): adds ``weight · scale · every · mean(term(ctx))``; ``term(ctx)`` returns per-sample values
  (N) or a scalar;
* ``critic``: changes the critic that G's adversarial term is computed against (the unrolled look-ahead);
* ``select``: chooses which of G's scores its adversarial term keeps (top-k training).

Terms read only their context (:class:`DContext`, :class:`GContext`): what the phase computed this update and the
batch it was given. They keep no reference to what another phase left behind.

Adding a penalty is one new class here; see docs/stabilizers.md for every term with its formula and paper.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import torch
from torch import nn

from ..registry import Registry

Tensor = torch.Tensor
Stats = dict[str, Tensor]


@dataclass
class DContext:
    """One D update. ``real`` / ``fake`` are the batches as D sees them (after augmentation, noise and packing) and the
    logits are D's on them, not detached.

    The input-gradient penalties differentiate with respect to the images *before* augmentation, through it (as
    StyleGAN2-ADA and DiffAugment do): ``real_input`` / ``fake_input`` are those images (N×…) and ``judge(x, c)`` is D
    applied to D's view of x (a fresh augmentation draw, noise, packing), one score per group of ``group`` consecutive
    samples (PacGAN's packs; 1 otherwise). Without augmentation, noise or packing, ``judge`` is D and the inputs are
    ``real`` and ``fake``.
    """

    D: nn.Module
    real: Tensor
    fake: Tensor
    c_real: Tensor | None
    c_fake: Tensor | None
    real_logits: Tensor
    fake_logits: Tensor
    step: int = 0
    stats: Stats = field(default_factory=dict)
    judge: Callable[[Tensor, "Tensor | None"], Tensor] | None = None
    real_input: Tensor | None = None
    fake_input: Tensor | None = None
    group: int = 1

    def __post_init__(self) -> None:
        self.judge = self.D if self.judge is None else self.judge
        self.real_input = self.real if self.real_input is None else self.real_input
        self.fake_input = self.fake if self.fake_input is None else self.fake_input


@dataclass
class GContext:
    """One G update: G's fake batch as D sees it (``x_fake``, attached to G), the real batch this phase was given
    (``x_real``, as D sees it; None unless a term or the loss needs it), and how to draw fresh latents."""

    G: nn.Module
    D: nn.Module
    x_fake: Tensor
    c_fake: Tensor | None
    x_real: Tensor | None
    c_real: Tensor | None
    loss: Any  # gankit.losses.AdversarialLoss
    step: int
    n: int  # G's batch on this process
    device: torch.device
    latents: Callable[[int], tuple[Tensor, Tensor | None]]
    d_optimizer: torch.optim.Optimizer | None = None
    stats: Stats = field(default_factory=dict)


class Term:
    """Base of every registered term (see the module doc). Subclasses set the class attributes and ``__call__``.

    Args:
        cfg: the run's config; the term reads its own fields (``weight_key``, ``every_key`` and any other it declares).
        weight: overrides the configured weight (the divergence guard adds a term this way).
    """

    phase: ClassVar[str] = "D"
    kind: ClassVar[str] = "loss"
    weight_key: ClassVar[str] = ""
    every_key: ClassVar[str | None] = None
    scale: ClassVar[float] = 1.0
    stat: ClassVar[str] = ""
    twice: ClassVar[tuple[str, ...]] = ()
    strengthen: ClassVar[bool] = False
    needs_real: ClassVar[bool] = False
    fields: ClassVar[dict[str, tuple[Any, Any]]] = {}
    name: ClassVar[str] = ""  # set on registration

    def __init__(self, cfg: Any, weight: float | None = None) -> None:
        self.weight = float(read(cfg, self.weight_key)) if weight is None else float(weight)
        self.every = int(read(cfg, self.every_key)) if self.every_key else 1

    @classmethod
    def active(cls, cfg: Any) -> bool:
        """Whether the config switches this term on (a non-zero weight or switch)."""
        return bool(read(cfg, cls.weight_key))

    @classmethod
    def check_config(cls, cfg: Any, traits: frozenset[str]) -> None:
        """Cross-field rules of the term's own fields (raise ConfigError). ``traits``: the data's schema name
        ("points", "image") and the model family's traits ("style_based", "d_embed", see gankit.models.Family).
        Most terms have none."""

    @property
    def key(self) -> str:
        return self.stat or self.name

    def due(self, updates: int) -> bool:
        """Whether the term is evaluated at its phase's update number ``updates`` (0-based)."""
        return updates % self.every == 0

    def __call__(self, ctx: Any) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def critic(self, D: Callable, ctx: GContext) -> Callable:  # kind "critic"
        return D

    def select(self, fake_logits: Tensor, ctx: GContext) -> Tensor:  # kind "select"
        return fake_logits

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def read(cfg: Any, key: str | None) -> Any:
    """``cfg``'s value at a dotted key (``"reg.r1"``)."""
    value = cfg
    for part in (key or "").split("."):
        if part:
            value = getattr(value, part)
    return value


TERMS: Registry[type] = Registry("terms", lambda c: isinstance(c, type) and issubclass(c, Term), "a subclass of gankit.terms.Term")


def register(name: str, help: str = "") -> Callable[[type], type]:  # noqa: A002
    """Class decorator: register a Term subclass under ``name`` (its log key unless it sets ``stat``)."""

    def add(cls: type) -> type:
        cls.name = name
        return TERMS.register(name, cls, help=help)

    return add


def of_phase(phase: str) -> list[type]:
    """The registered term classes of ``phase``, in registration order (the order their values are summed)."""
    return [e.obj for e in TERMS.in_order() if e.obj.phase == phase]


def section_fields(section: str) -> dict[str, tuple[Any, Any]]:
    """Every config field the registered terms declare under ``section`` ("reg", "trick"), in registration order."""
    out: dict[str, tuple[Any, Any]] = {}
    for e in TERMS.in_order():
        for key, spec in e.obj.fields.items():
            head, _, name = key.partition(".")
            if head == section:
                out[name] = spec
    return out


from . import penalties, generator  # noqa: E402,F401,I001  (register the terms; D penalties first: their order is the order of the sum)

__all__ = ["DContext", "GContext", "Term", "TERMS", "register", "of_phase", "section_fields", "read"]
