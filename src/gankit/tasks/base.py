"""What a task is: networks, phases, sampling, and the pipeline its export becomes.

A :class:`Task` is built from the run's config and its data's :class:`~gankit.data.DataInfo`. The training loop
then asks it, and only it, for anything model-specific:

* ``networks`` — a dict of named modules (``G``, ``D``; ``encoder``, ``decoder``). The loop moves them to the device,
  adds the averaged copies the task names in ``ema`` (``{"G_ema": "G"}``), checkpoints, rolls back, syncs and compiles
  them by name without knowing what they are;
* ``param_groups()`` — optimizer name -> (parameters, learning rate); the loop builds the optimizers;
* ``phases`` (after :meth:`bind`) — what one step does, in order (StyleGAN2-ADA's Gmain / Dmain / Greg / Dreg);
* ``latents(n, generator)`` and ``decode(latents)`` — fixed noise for pictures and evaluations, and the samples it
  gives with the averaged network; training draws its own latents inside the phases. These are the only places a
  task draws latents;
* ``guarded`` (statistics the divergence guard bounds), ``strengthen()`` (what a rollback changes),
  ``compile_targets()``, ``state_dict()``, ``field(points)`` (a scalar field over the plane for toy pictures) and
  ``export_spec()`` (which network a pipeline needs).

A :class:`Pipeline` is what ``gankit.load(RUN)`` returns: the exported network with the task's way of sampling,
``pipe(n)``, ``pipe(n, labels)``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar

import torch
from torch import nn

from ..models import MODELS

Tensor = torch.Tensor
Stats = dict[str, Tensor]


@dataclass(frozen=True)
class Clock:
    """Where the run is when a phase's loss is computed: main-phase updates (``step``), this phase's updates so far
    (``updates``, before this one) and real samples shown (``images_seen``)."""

    step: int
    updates: int
    images_seen: int


@dataclass
class Phase:
    """One kind of update.

    Attributes:
        name: the phase's name (``D``, ``G``, ``VAE``); ``loss(batch, clock) -> (loss, stats)`` computes it.
        optimizer: the optimizer that steps. networks: the networks it trains (gradients synced, norm logged).
        repeat: updates per step (a GAN's n_critic). every: steps between runs of the phase.
        data: ``fresh`` (a new batch for each update) or ``last`` (the batch of the last fresh draw).
        counter: the log / checkpoint name of its update count (``d_updates``); None for the main phase (its count is
            the step).
        grad_stat: the log key of the trained networks' gradient norm.
        after: constraints applied after each optimizer step (WGAN weight clipping).
        active: when given, the phase runs only at steps where ``active(step)`` is true (an adversarial phase that
            waits for a pixel-loss pretraining, as ESRGAN's D).
        clip: when positive, the gradients' global norm is clipped to it before each update (the logged norm is the
            norm before clipping).
    """

    name: str
    optimizer: str
    networks: tuple[str, ...]
    loss: Callable[[Any, Clock], tuple[Tensor, Stats]]
    repeat: int = 1
    every: int = 1
    data: str = "fresh"
    counter: str | None = None
    grad_stat: str = "grad_norm"
    after: Callable[[], None] | None = None
    active: Callable[[int], bool] | None = None
    clip: float = 0.0


def critic_then_generator(d_loss: Callable[[Any, Clock], tuple[Tensor, Stats]], g_loss: Callable[[Any, Clock], tuple[Tensor, Stats]],
                          n_critic: int, adversarial: bool = True) -> list[Phase]:
    """The usual pair of phases: D (``n_critic`` updates, fresh batches) then G on D's last batch; without an adversary,
    G alone on fresh batches."""
    phases = [Phase("D", "D", ("D",), d_loss, repeat=n_critic, counter="d_updates", grad_stat="d_grad_norm")] if adversarial else []
    return [*phases, Phase("G", "G", ("G",), g_loss, data="last" if adversarial else "fresh", grad_stat="g_grad_norm")]


class Task:
    """Base of every task (see the module doc)."""

    name: ClassVar[str] = ""
    ema: ClassVar[dict[str, str]] = {}
    guarded: ClassVar[tuple[str, ...]] = ()
    pipeline: ClassVar[type] = object
    sampler: ClassVar[str] = ""  # the network that samples (an averaged copy, e.g. G_ema)
    draws_field: ClassVar[bool] = False  # whether :meth:`field` gives something to draw
    shown: ClassVar[dict[str, str]] = {}  # log key -> label, for the progress bar

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        self.cfg, self.info = cfg, info
        self.rank, self.world = shard
        self.networks: dict[str, nn.Module] = {}
        self.kwargs: dict[str, dict] = {}
        self.phases: list[Phase] = []
        self.device = torch.device("cpu")
        self.classes = 0  # conditioning classes (0: unconditional)
        self.notes: list[str] = []  # what the run's start event should tell the user (e.g. rows a packed batch drops)

    # ------------------------------------------------------------------ what the loop asks

    def param_groups(self) -> dict[str, tuple[list[nn.Parameter], float]]:
        raise NotImplementedError

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        """Called once the networks are on ``device`` and the optimizers exist: build ``self.phases``."""
        raise NotImplementedError

    @property
    def trained(self) -> list[str]:
        """The networks some phase trains, in phase order."""
        return list(dict.fromkeys(n for p in self.phases for n in p.networks))

    def latents(self, n: int, generator: torch.Generator | None = None) -> tuple:
        """Fixed latents for n pictures or evaluation samples (CPU)."""
        raise NotImplementedError

    @torch.inference_mode()
    def decode(self, latents: tuple, batch: int = 512) -> Tensor:
        """Samples in data space (CPU, float32) of ``latents`` with the averaged network, in chunks."""
        raise NotImplementedError

    def scored(self, latents: tuple, batch: int = 512) -> Any:
        """What the evaluation scores for ``latents``: the samples themselves unless a task's metric needs more
        (translation: every direction and the reconstructions, as a dict)."""
        return self.decode(latents, batch)

    def field(self, points: Tensor) -> Tensor | None:
        """A scalar per point of data space for toy pictures (a GAN's D, a VAE's ELBO); None: nothing to draw."""
        return None

    def picture(self, latents: tuple, samples: Tensor) -> tuple[Tensor, int | None]:
        """What a sample grid shows for ``samples`` of ``latents``: (images, per row or None for the grid's default);
        the samples themselves unless a task shows more (restoration: input, output, target)."""
        return samples, None

    def hooks(self, trainer: Any) -> list:
        """Hooks of the task's own that the loop runs after its phases (e.g. MolGAN's elite-sample loop); none by default."""
        return []

    def strengthen(self) -> dict[str, list[float]]:
        """After a divergence rollback: change what caused it; returns {what: [old, new]}."""
        return {}

    def compile_targets(self) -> list[str]:
        """The networks torch.compile may wrap (not those differentiated twice)."""
        return self.trained

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass

    def export_spec(self) -> tuple[str, nn.Module, dict]:
        """(the family's network name, the module to export, its constructor kwargs): the averaged ``sampler`` copy,
        built like the network it averages."""
        source = self.ema[self.sampler]
        return source, self.networks[self.sampler], self.kwargs[source]

    def export_meta(self) -> dict[str, Any]:
        """What the task's pipeline needs besides the network (saved in the export's config.json)."""
        return {}


class ScoreHook:
    """A task's own score written while it trains: every ``every`` steps and at the end, an ``event`` with ``measure()``
    (a flat dict). The semi-supervised GAN's and PixelDA's classifiers write ``classify`` events (``task.accuracy()``:
    ``{"test_acc": 0.93, "n": 359}``); likelihood-based models write ``likelihood`` events (held-out log-likelihood).
    The loop runs it like any hook (``hook(trainer, final)``), on rank 0 only.
    """

    def __init__(self, event: str, every: int, measure: Callable[[], dict[str, Any]]) -> None:
        self.event, self.every, self.measure = event, every, measure
        self.last = -1  # the step last scored: the end of a run that stops on a multiple of every is scored once

    def due(self, t: Any) -> bool:
        return self.every > 0 and t.step % self.every == 0

    def __call__(self, t: Any, final: bool = False) -> None:
        if (final or self.due(t)) and t.step != self.last:
            self.last = t.step
            t.log.write(self.event, step=t.step, **self.measure())


def score_hook(task: "Task", event: str, measure: Callable[[], dict[str, Any]]) -> ScoreHook:
    """A :class:`ScoreHook` at the run's evaluation interval (``eval.every``, else ``train.sample_every``)."""
    return ScoreHook(event, task.cfg.eval.every or task.cfg.train.sample_every, measure)


@torch.no_grad()
def classify_in_eval_mode(net: nn.Module, x: Tensor, device: torch.device, batch: int = 512) -> Tensor:
    """``net(x)`` in eval mode (dropout off, batch-norm statistics frozen) in chunks, then ``net``'s mode restored:
    N×... -> N×K logits (CPU, float32)."""
    was = net.training
    net.eval()
    try:
        return torch.cat([net(x[i:i + batch].to(device)).float().cpu() for i in range(0, len(x), batch)])
    finally:
        net.train(was)


def export_with(task: Task, other: str) -> tuple[str, nn.Module, dict]:
    """The export of a task whose pipeline needs a second network beside G_ema (StarGAN's D, the classifying GANs' D,
    PixelDA's T): the family's ``G_pair``, built from G's kwargs plus ``other``'s under its lower-case name, holding
    G_ema's and ``other``'s weights. Returns :meth:`Task.export_spec`'s triple."""
    kw = {**task.kwargs["G"], other.lower(): task.kwargs[other]}
    pair = MODELS.get(task.cfg.model.name).networks["G_pair"](**kw)
    pair.G.load_state_dict(task.networks["G_ema"].state_dict())
    getattr(pair, other).load_state_dict(task.networks[other].state_dict())
    return "G_pair", pair, kw


class Pipeline:
    """An exported network with its task's way of sampling: ``pipe(n)``, ``pipe(n, labels)``.

    Attributes of the network (``z_dim``, ``c_dim``, ``gankit_meta``, a style-based G's ``mapping``, ...) are readable
    on the pipeline itself; ``pipe.module`` is the network.
    """

    def __init__(self, module: nn.Module, meta: dict) -> None:
        self.module, self.meta = module, meta
        module.gankit_meta = meta

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or name in ("module", "meta"):
            raise AttributeError(name)
        return getattr(self.module, name)

    def __call__(self, n: int, labels: Any = None, seed: int = 0, batch: int = 512) -> Tensor:
        raise NotImplementedError

    def decode(self, z: Tensor, c: Tensor | None = None, batch: int = 256) -> Tensor:
        """Deterministic samples of given latents (CPU, float32): for pictures such as interpolations."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.meta.get('family')}, step {self.meta.get('step')})"


def module_of(model: Any) -> nn.Module:
    """The network of a pipeline, or the module itself."""
    return model.module if isinstance(model, Pipeline) else model


__all__ = ["ScoreHook", "score_hook", "Clock", "Phase", "Task", "Pipeline", "classify_in_eval_mode", "critic_then_generator", "export_with",
           "module_of"]
