"""Image-to-image translation: ``pix2pix`` (paired), ``cyclegan`` (unpaired, two domains), ``stargan`` (many domains).

Data: :mod:`gankit.data.domains` (schema ``domains``). What each task trains, per step:

**pix2pix** (Isola et al. 2017): a U-Net G from A to B with dropout as its noise, a PatchGAN D on (input, image) pairs
stacked on the channel axis (``pix2pix.conditional``; off: D sees the image alone). D first on a fresh batch, its
loss halved (the paper: "we divide the objective by 2 while optimizing D"), then G on the same batch:

    L_D = ½ [−log D(a, b) − log(1 − D(a, G(a)))],    L_G = w_adv · (−log D(a, G(a))) + λ_L1 · |b − G(a)|₁

with λ_L1 = 100 (``pix2pix.l1``), w_adv = 1 (``pix2pix.adv``; 0: the "L1 alone" ablation, no D); ``pix2pix.l1=0`` is
"cGAN alone"; ``pix2pix.loss=lsgan`` the least-squares variant.

**CycleGAN** (Zhu et al. 2017): G_AB: A → B and G_BA: B → A (ResNet generators), D_B and D_A (PatchGANs with instance
norm), least-squares loss. G first (both generators, one optimizer), then D on the same batch with fakes drawn from a
history of 50 earlier ones (:class:`gankit.models.translation.ImagePool`, Shrivastava et al. 2017):

    L_G = w_adv [(D_B(G_AB(a)) − 1)² + (D_A(G_BA(b)) − 1)²] + λ (|G_BA(G_AB(a)) − a|₁ + |G_AB(G_BA(b)) − b|₁)
          + λ·λ_id (|G_AB(b) − b|₁ + |G_BA(a) − a|₁)
    L_D = ½ [(D_B(b) − 1)² + D_B(pool_B(G_AB(a)))²] + ½ [(D_A(a) − 1)² + D_A(pool_A(G_BA(b)))²]

λ = 10 (``cyclegan.cycle``), λ_id = 0.5 (``cyclegan.identity``, a fraction of λ as in the reference code), w_adv = 1
(``cyclegan.adv``; 0: "cycle alone"); ``cyclegan.cycle=0`` with identity 0 is "GAN alone".

**StarGAN** (Choi et al. 2018): one G(x, c) conditioned on a target domain vector, a D with two heads (real/fake
patches, and the domain vector), WGAN-GP. ``train.n_critic`` (5) D updates, each on a fresh batch with targets
c_trg = the batch's own vectors in a random order (the reference's rule), then G on the last batch and targets:

    L_D = −D_src(x) + D_src(G(x, c_trg)) + λ_cls ℒ_cls(D_cls(x), c) + λ_gp (‖∇D_src(x̂)‖₂ − 1)²
    L_G = −D_src(G(x, c_trg)) + λ_cls ℒ_cls(D_cls(G(x, c_trg)), c_trg) + λ_rec |x − G(G(x, c_trg), c)|₁

λ_cls = 1, λ_rec = 10, λ_gp = 10 (``stargan.cls``, ``stargan.rec``, ``stargan.gp``); ℒ_cls sums binary cross-entropy
over one-bit attributes and cross-entropy over each k-valued one (:func:`gankit.metrics.translation.attribute_loss`).

All three: the fixed test items of :func:`gankit.data.domains.eval_items` are their "latents"; :meth:`scored` gives the
dict of translations the ``translation`` metric scores; sample grids show input → output (→ reconstruction) rows.
"""
from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..data import build_dataset
from ..data.domains import decode_attrs, encode_attrs, eval_items
from ..errors import ConfigError
from ..metrics.translation import attribute_loss
from ..models import MODELS, build_networks
from ..types import Batch
from .base import Clock, Phase, Pipeline, Task, critic_then_generator, export_with

Tensor = torch.Tensor
Stats = dict[str, Tensor]


def gan_terms(d_real: Tensor | None, d_fake: Tensor, kind: str) -> Tensor:
    """Adversarial loss of patch logits (means over every patch): with ``d_real`` D's loss, else G's.

    vanilla: −log σ(real) − log(1 − σ(fake)) / −log σ(fake); lsgan: (real − 1)² + fake² / (fake − 1)²."""
    if kind == "lsgan":
        if d_real is None:
            return (d_fake - 1).pow(2).mean()
        return (d_real - 1).pow(2).mean() + d_fake.pow(2).mean()
    if d_real is None:
        return F.softplus(-d_fake).mean()
    return F.softplus(-d_real).mean() + F.softplus(d_fake).mean()


def grey_to(x: Tensor, channels: int) -> Tensor:
    return x.expand(-1, channels, -1, -1) if x.shape[1] == 1 and channels == 3 else x


@torch.inference_mode()
def chunked(fn: Any, *tensors: Tensor, batch: int = 64, device: torch.device | None = None) -> Tensor:
    """``fn`` over chunks of the tensors (moved to ``device``), results on the CPU in float32."""
    out = []
    for i in range(0, len(tensors[0]), batch):
        args = [t[i:i + batch].to(device) if device is not None else t[i:i + batch] for t in tensors]
        out.append(fn(*args).float().clamp(-1, 1).cpu())
    return torch.cat(out)


class TranslationTask(Task):
    """What the three translation tasks share: fixed test items, their translations, pictures and the pipeline."""

    guarded = ("d_real", "d_fake")

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        self.domains = info.domains
        # the test split now, before the run directory exists: a bad test folder stops the run with nothing written
        self.test_data = build_dataset(cfg.data, "test")

    def param_groups(self) -> dict[str, tuple[list[nn.Parameter], float]]:
        tc = self.cfg.train
        groups = {"G": ([p for n in self.g_nets for p in self.networks[n].parameters()], tc.lr_g)}
        if self.d_nets:
            groups["D"] = ([p for n in self.d_nets for p in self.networks[n].parameters()], tc.lr_d)
        return groups

    g_nets: tuple[str, ...] = ("G",)
    d_nets: tuple[str, ...] = ("D",)

    def latents(self, n: int, generator: torch.Generator | None = None) -> tuple:
        """(the first n fixed test items,) — a Batch of a (b, labels, attrs, target); ``generator`` is not used."""
        return (eval_items(self.test_data, n, self.cfg.eval.seed),)

    def modules(self) -> dict[str, nn.Module]:
        """The averaged networks that translate, by the names the outputs function expects."""
        raise NotImplementedError

    def scored(self, latents: tuple, batch: int = 64) -> dict[str, Tensor]:
        return self.pipeline.outputs(self.modules(), latents[0], batch, self.device)

    @torch.inference_mode()
    def decode(self, latents: tuple, batch: int = 64) -> Tensor:
        """The main translation (A → B, StarGAN: to the target vectors) of the items (CPU float32)."""
        return self.pipeline.outputs(self.modules(), latents[0], batch, self.device, main_only=True)["ab"]

    def picture(self, latents: tuple, samples: Tensor) -> tuple[Tensor, int]:
        items = latents[0]
        n = len(samples)
        first = Batch({k: v[:n] for k, v in items.items()})
        rows = self.pipeline.picture_rows(first, self.pipeline.outputs(self.modules(), first, 64, self.device))
        c = max(r.shape[1] for r in rows)
        return torch.stack([grey_to(r, c) for r in rows], 1).flatten(0, 1), len(rows)

    def export_meta(self) -> dict[str, Any]:
        return {"domains": self.domains}


# --------------------------------------------------------------------------- pix2pix


class Pix2PixTask(TranslationTask):
    """U-Net G, conditional PatchGAN D (see the module doc)."""

    name = "pix2pix"
    ema = {"G_ema": "G"}
    sampler = "G_ema"
    shown = {"l1": "L1", "loss_d": "D"}

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        if self.domains["kind"] != "paired":
            raise ConfigError(f"task.name: pix2pix needs paired data; {info.name!r} is {self.domains['kind']} (use cyclegan or stargan)")
        pc = cfg.pix2pix
        self.adversarial = pc.adv > 0
        # an unconditional D (the paper's GAN ablation) sees the image alone
        adjust = {} if pc.conditional else {"D": {"img_channels": self.domains["channels_b"]}}
        self.networks, self.kwargs = build_networks(cfg.model, info, adjust)
        if not self.adversarial:
            del self.networks["D"]
            self.d_nets = ()

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.device = device
        self.phases = critic_then_generator(self.d_phase, self.g_phase, self.cfg.train.n_critic, self.adversarial)

    def _d(self, a: Tensor, x: Tensor) -> Tensor:
        return self.networks["D"](torch.cat([a, x], 1) if self.cfg.pix2pix.conditional else x).float()

    def d_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        with torch.no_grad():
            fake = self.networks["G"](batch["input"])
        d_real, d_fake = self._d(batch["input"], batch["x"]), self._d(batch["input"], fake)
        loss = 0.5 * gan_terms(d_real, d_fake, self.cfg.pix2pix.loss)
        return loss, {"loss_d": loss.detach(), "d_real": d_real.mean().detach(), "d_fake": d_fake.mean().detach()}

    def g_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        pc = self.cfg.pix2pix
        fake = self.networks["G"](batch["input"])
        l1 = (fake.float() - batch["x"].float()).abs().mean()
        loss = pc.l1 * l1
        stats: Stats = {"l1": l1.detach()}
        if self.adversarial:
            adv = gan_terms(None, self._d(batch["input"], fake), pc.loss)
            loss = loss + pc.adv * adv
            stats["adv"] = adv.detach()
        return loss, {**stats, "loss_g": loss.detach()}

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.networks["G_ema"]}


# --------------------------------------------------------------------------- CycleGAN


class CycleGANTask(TranslationTask):
    """Two ResNet generators, two PatchGANs, two image pools (see the module doc)."""

    name = "cyclegan"
    ema = {"G_AB_ema": "G_AB", "G_BA_ema": "G_BA"}
    sampler = "G_AB_ema"
    shown = {"cycle": "cycle", "loss_d": "D"}
    g_nets = ("G_AB", "G_BA")
    d_nets = ("D_A", "D_B")

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        if self.domains["kind"] != "unpaired":
            raise ConfigError(f"task.name: cyclegan translates between two unpaired domains; {info.name!r} is {self.domains['kind']} data")
        cc = cfg.cyclegan
        if cc.identity > 0 and self.domains["channels_a"] != self.domains["channels_b"]:
            raise ConfigError("cyclegan.identity: the identity loss feeds each G images of its output domain; the domains have "
                              f"{self.domains['channels_a']} and {self.domains['channels_b']} channels (set cyclegan.identity=0)")
        self.adversarial = cc.adv > 0
        self.networks, self.kwargs = build_networks(cfg.model, info, {"pool_A": {"size": cc.pool}, "pool_B": {"size": cc.pool}})
        if not self.adversarial:
            for n in (*self.d_nets, "pool_A", "pool_B"):
                del self.networks[n]
            self.d_nets = ()
        self._fakes: tuple[Tensor, Tensor] | None = None

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.device = device
        self.phases = [Phase("G", "G", self.g_nets, self.g_phase, grad_stat="g_grad_norm")]
        if self.adversarial:
            self.phases.append(Phase("D", "D", self.d_nets, self.d_phase, data="last", counter="d_updates", grad_stat="d_grad_norm"))

    def g_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        cc, n = self.cfg.cyclegan, self.networks
        a, b = batch["a"], batch["b"]
        fake_b, fake_a = n["G_AB"](a), n["G_BA"](b)
        cycle = (n["G_BA"](fake_b).float() - a).abs().mean() + (n["G_AB"](fake_a).float() - b).abs().mean()
        loss = cc.cycle * cycle
        stats: Stats = {"cycle": cycle.detach()}
        if cc.identity > 0:
            idt = (n["G_AB"](b).float() - b).abs().mean() + (n["G_BA"](a).float() - a).abs().mean()
            loss = loss + cc.cycle * cc.identity * idt
            stats["identity"] = idt.detach()
        if self.adversarial:
            adv = gan_terms(None, n["D_B"](fake_b).float(), cc.loss) + gan_terms(None, n["D_A"](fake_a).float(), cc.loss)
            loss = loss + cc.adv * adv
            stats["adv"] = adv.detach()
            self._fakes = (fake_a.detach(), fake_b.detach())
        return loss, {**stats, "loss_g": loss.detach()}

    def d_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        cc, n = self.cfg.cyclegan, self.networks
        assert self._fakes is not None, "the D phase follows the G phase"
        fake_a, fake_b = self._fakes
        fake_a, fake_b = n["pool_A"].query(fake_a), n["pool_B"].query(fake_b)
        real_a, real_b = n["D_A"](batch["a"]).float(), n["D_B"](batch["b"]).float()
        out_a, out_b = n["D_A"](fake_a).float(), n["D_B"](fake_b).float()
        loss = 0.5 * gan_terms(real_a, out_a, cc.loss) + 0.5 * gan_terms(real_b, out_b, cc.loss)
        return loss, {"loss_d": loss.detach(), "d_real": (real_a.mean() + real_b.mean()).detach() / 2,
                      "d_fake": (out_a.mean() + out_b.mean()).detach() / 2}

    def modules(self) -> dict[str, nn.Module]:
        return {"ab": self.networks["G_AB_ema"], "ba": self.networks["G_BA_ema"]}

    def export_spec(self) -> tuple[str, nn.Module, dict]:
        """Both directions as one ``G_pair`` (ab.*, ba.*)."""
        pair = MODELS.get(self.cfg.model.name).networks["G_pair"](**self.kwargs["G_AB"])
        pair.ab.load_state_dict(self.networks["G_AB_ema"].state_dict())
        pair.ba.load_state_dict(self.networks["G_BA_ema"].state_dict())
        return "G_pair", pair, self.kwargs["G_AB"]


# --------------------------------------------------------------------------- StarGAN


def gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor) -> Tensor:
    """WGAN-GP on D's real/fake head: mean (‖∇_x̂ D_src(x̂)‖₂ − 1)² at x̂ = α·real + (1 − α)·fake, α ~ U(0, 1) per image."""
    alpha = torch.rand(real.shape[0], 1, 1, 1, device=real.device, dtype=real.dtype)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    src, _ = D(x_hat)
    (grad,) = torch.autograd.grad(src.float().sum(), x_hat, create_graph=True)
    return (grad.flatten(1).norm(2, dim=1) - 1).pow(2).mean()


class StarGANTask(TranslationTask):
    """One conditional G, a D with source and domain heads, WGAN-GP (see the module doc)."""

    name = "stargan"
    ema = {"G_ema": "G"}
    sampler = "G_ema"
    shown = {"rec": "rec", "loss_d": "D"}

    def __init__(self, cfg: Any, info: Any, shard: tuple[int, int] = (0, 1)) -> None:
        super().__init__(cfg, info, shard)
        if self.domains["kind"] != "domains":
            raise ConfigError(f"task.name: stargan needs images with domain vectors (data.name=digits-attrs, or data.layout=domains / "
                              f"celeba); {info.name!r} is {self.domains['kind']} data")
        self.attributes = tuple((n, tuple(v)) for n, v in self.domains["attributes"])
        self.networks, self.kwargs = build_networks(cfg.model, info)
        self._target: Tensor | None = None

    def bind(self, optimizers: dict[str, torch.optim.Optimizer], device: torch.device) -> None:
        self.device = device
        self.phases = critic_then_generator(self.d_phase, self.g_phase, self.cfg.train.n_critic)

    def compile_targets(self) -> list[str]:
        return ["G"]  # D is differentiated twice (the gradient penalty)

    def d_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        sc, G, D = self.cfg.stargan, self.networks["G"], self.networks["D"]
        x, c = batch["x"], batch["attrs"]
        self._target = c[torch.randperm(len(c), device=c.device)]
        with torch.no_grad():
            fake = G(x, self._target)
        src_real, cls_real = D(x)
        src_fake, _ = D(fake)
        cls = attribute_loss(cls_real.float(), c, self.attributes)
        gp = gradient_penalty(D, x, fake)
        adv = -src_real.float().mean() + src_fake.float().mean()
        loss = adv + sc.cls * cls + sc.gp * gp
        return loss, {"loss_d": loss.detach(), "d_real": src_real.float().mean().detach(), "d_fake": src_fake.float().mean().detach(),
                      "d_cls": cls.detach(), "gp": gp.detach()}

    def g_phase(self, batch: Batch, clock: Clock) -> tuple[Tensor, Stats]:
        sc, G, D = self.cfg.stargan, self.networks["G"], self.networks["D"]
        x, c, target = batch["x"], batch["attrs"], self._target
        fake = G(x, target)
        src, cls_logits = D(fake)
        adv = -src.float().mean()
        cls = attribute_loss(cls_logits.float(), target, self.attributes)
        rec = (G(fake, c).float() - x).abs().mean()
        loss = adv + sc.cls * cls + sc.rec * rec
        return loss, {"adv": adv.detach(), "g_cls": cls.detach(), "rec": rec.detach(), "loss_g": loss.detach()}

    def modules(self) -> dict[str, nn.Module]:
        return {"G": self.networks["G_ema"]}

    def export_spec(self) -> tuple[str, nn.Module, dict]:
        """G_ema with D beside it (its domain head estimates an input's own attributes for ``--to``), as ``G_pair``."""
        return export_with(self, "D")


# --------------------------------------------------------------------------- pipelines


class TranslationPipeline(Pipeline):
    """A trained translator: ``pipe(images)`` -> translated images (N×C×H×W in [-1, 1], CPU float32)."""

    def eval_outputs(self, data_cfg: Any, n: int, seed: int) -> dict[str, Tensor]:
        """The translations of the n fixed test items of ``data_cfg`` (as the ``translation`` metric rebuilds them)."""
        items = eval_items(build_dataset(data_cfg, "test"), n, seed)
        return self.outputs(self.translators(), items, 64, next(self.module.parameters()).device)

    def _check(self, images: Any) -> None:
        want = self.meta["domains"]["channels_a"]
        if not isinstance(images, torch.Tensor) or images.ndim != 4:
            raise ConfigError("translate: give images as an N×C×H×W tensor in [-1, 1]")
        r = self.meta["data"]["shape"][-1]
        if tuple(images.shape[-2:]) != (r, r):
            raise ConfigError(f"translate: images are {images.shape[-2]}×{images.shape[-1]}; this model translates {r}×{r} images")
        if images.shape[1] != want:
            raise ConfigError(f"translate: images have {images.shape[1]} channels; this model takes {want}")


class Pix2PixPipeline(TranslationPipeline):
    """pix2pix: ``pipe(a)`` -> G(a) (eval mode: no dropout, batch-norm running statistics)."""

    def translators(self) -> dict[str, nn.Module]:
        return {"G": self.module.eval()}

    @staticmethod
    def outputs(nets: dict[str, nn.Module], items: Batch, batch: int, device: Any, main_only: bool = False) -> dict[str, Tensor]:
        return {"ab": chunked(nets["G"], items["a"], batch=batch, device=device)}

    @staticmethod
    def picture_rows(items: Batch, out: dict[str, Tensor]) -> list[Tensor]:
        return [items["a"], out["ab"], items["b"]]

    def __call__(self, images: Tensor, labels: Any = None, seed: int = 0, batch: int = 16, direction: str | None = None) -> Tensor:
        if direction not in (None, "AtoB"):
            raise ConfigError("--direction: a pix2pix model translates one way (the one it was trained in: AtoB)")
        self._check(images)
        return chunked(self.module.eval(), images, batch=batch, device=next(self.module.parameters()).device)


class CycleGANPipeline(TranslationPipeline):
    """CycleGAN: ``pipe(images, direction="AtoB"|"BtoA")``."""

    def translators(self) -> dict[str, nn.Module]:
        return {"ab": self.module.ab.eval(), "ba": self.module.ba.eval()}

    @staticmethod
    def outputs(nets: dict[str, nn.Module], items: Batch, batch: int, device: Any, main_only: bool = False) -> dict[str, Tensor]:
        ab = chunked(nets["ab"], items["a"], batch=batch, device=device)
        if main_only:
            return {"ab": ab}
        ba = chunked(nets["ba"], items["b"], batch=batch, device=device)
        return {"ab": ab, "ba": ba, "aba": chunked(nets["ba"], ab, batch=batch, device=device),
                "bab": chunked(nets["ab"], ba, batch=batch, device=device)}

    @staticmethod
    def picture_rows(items: Batch, out: dict[str, Tensor]) -> list[Tensor]:
        return [items["a"], out["ab"], out["aba"], items["b"], out["ba"], out["bab"]]

    def __call__(self, images: Tensor, labels: Any = None, seed: int = 0, batch: int = 16, direction: str | None = None) -> Tensor:
        direction = direction or "AtoB"
        if direction not in ("AtoB", "BtoA"):
            raise ConfigError(f"--direction: {direction!r}; use AtoB or BtoA")
        self._check(images)
        net = self.module.ab if direction == "AtoB" else self.module.ba
        return chunked(net.eval(), images, batch=batch, device=next(net.parameters()).device)


class StarGANPipeline(TranslationPipeline):
    """StarGAN: ``pipe(images, target=...)``: ``target`` an N×c_dim (or c_dim) domain vector, or a dict {attribute:
    value}; attributes it leaves out keep the input's own, as D's domain head reads them."""

    @property
    def attributes(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return tuple((n, tuple(v)) for n, v in self.meta["domains"]["attributes"])

    def translators(self) -> dict[str, nn.Module]:
        return {"G": self.module.G.eval()}

    @staticmethod
    def outputs(nets: dict[str, nn.Module], items: Batch, batch: int, device: Any, main_only: bool = False) -> dict[str, Tensor]:
        G = nets["G"]
        ab = chunked(G, items["a"], items["target"], batch=batch, device=device)
        if main_only:
            return {"ab": ab}
        return {"ab": ab, "aba": chunked(G, ab, items["attrs"], batch=batch, device=device)}

    @staticmethod
    def picture_rows(items: Batch, out: dict[str, Tensor]) -> list[Tensor]:
        return [items["a"], out["ab"], out["aba"]]

    @torch.inference_mode()
    def own_attributes(self, images: Tensor) -> Tensor:
        """The value indices N×A D's domain head reads in ``images``."""
        D = self.module.D.eval()
        logits = chunked(lambda x: D(x)[1], images, batch=64, device=next(D.parameters()).device)
        return decode_attrs(logits, self.attributes, logits=True)

    def target_vectors(self, images: Tensor, target: Any) -> Tensor:
        """Domain vectors N×c_dim for a dict {attribute: value} (the rest from D's reading), or a given vector."""
        c_dim = self.meta["domains"]["c_dim"]
        if isinstance(target, torch.Tensor):
            t = target.float().reshape(-1, c_dim) if target.numel() % c_dim == 0 else None
            if t is None:
                raise ConfigError(f"--to: a domain vector has {c_dim} values")
            return t.expand(len(images), -1) if len(t) == 1 else t
        if not isinstance(target, dict) or not target:
            raise ConfigError("--to: give ATTR=VALUE for at least one attribute: " + self.describe())
        names = [n for n, _ in self.attributes]
        choices = self.own_attributes(images).clone()
        for key, value in target.items():
            if key not in names:
                raise ConfigError(f"--to: {key!r} is not an attribute of this model; it has {self.describe()}")
            j = names.index(key)
            values = self.attributes[j][1]
            v = str(value)
            if v not in values:
                raise ConfigError(f"--to: {key}={v} is not a value of {key}; use one of {', '.join(values)}")
            choices[:, j] = values.index(v)
        return encode_attrs(choices, self.attributes)

    def describe(self) -> str:
        return "; ".join(f"{n} ({'|'.join(v)})" for n, v in self.attributes)

    def __call__(self, images: Tensor, labels: Any = None, seed: int = 0, batch: int = 16, direction: str | None = None,
                 target: Any = None) -> Tensor:
        if direction is not None:
            raise ConfigError("--direction: a StarGAN model translates to target attributes; give --to ATTR=VALUE instead")
        self._check(images)
        c = self.target_vectors(images, target)
        G = self.module.G.eval()
        return chunked(G, images, c, batch=batch, device=next(G.parameters()).device)


Pix2PixTask.pipeline = Pix2PixPipeline
CycleGANTask.pipeline = CycleGANPipeline
StarGANTask.pipeline = StarGANPipeline

__all__ = ["CycleGANPipeline", "CycleGANTask", "Pix2PixPipeline", "Pix2PixTask", "StarGANPipeline", "StarGANTask", "TranslationPipeline",
           "TranslationTask", "gan_terms", "gradient_penalty"]
