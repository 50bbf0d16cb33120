"""Feature extractors: samples -> features (and class probabilities), the second stage of every metric.

An :class:`Extractor` maps a batch of samples in data space to ``features`` (N×F) and, when it is a
classifier, ``probs`` (N×K). It states its name, its weights' SHA-256 and how it resizes inputs, so every
result records exactly what measured it. Registered extractors:

* ``identity`` — toy and tabular vectors as they are (flattened);
* ``digits-cnn`` — a classifier trained on the bundled digits (features 128-d, 10 classes);
* ``vgg19`` / ``vgg19-random`` — VGG19's relu5_4 averaged over positions (512-d), with ImageNet weights from a path or
  with a fixed random initialization (:mod:`gankit.metrics.vgg`); they also give spatial maps for perceptual losses;
* ``inception-v3-fid`` — the standard FID Inception network (pool3 2,048-d; class probabilities from the 1,008
  unbiased logits, as the Inception Score's reference code), weights from
  a user path or cache, verified by SHA-256.

Any ``nn.Module`` mapping N×… to N×F becomes an extractor with :func:`from_module`.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from ..registry import Registry


@dataclass
class Extractor:
    """A batched, inference-mode feature function with provenance.

    ``fn(x: B×…) -> (features B×F, probs B×K or None)`` is applied in chunks of ``batch_size``.
    """

    name: str
    fn: Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor | None]]
    weights_sha256: str | None = None
    resize: str = "none"
    batch_size: int = 256
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    network: nn.Module | None = None  # a feature network with ``maps(x, layer)`` (perceptual losses), when it has one

    @torch.inference_mode()
    def __call__(self, x: torch.Tensor) -> dict[str, np.ndarray | None]:
        """x: N×… samples in data space -> {"features": N×F float64, "probs": N×K float64 or None}."""
        feats, probs = [], []
        for i in range(0, len(x), self.batch_size):
            # contiguous: a channels-last view of the same pixels would give (slightly) different features
            f, p = self.fn(x[i:i + self.batch_size].to(self.device).contiguous())
            feats.append(f.double().cpu())
            if p is not None:
                probs.append(p.double().cpu())
        return {"features": torch.cat(feats).numpy() if feats else np.zeros((0, 0)),
                "probs": torch.cat(probs).numpy() if probs else None}

    def provenance(self) -> dict[str, Any]:
        return {"extractor": self.name, "extractor_sha256": self.weights_sha256, "resize": self.resize}


EXTRACTORS: Registry[Callable[..., Extractor]] = Registry("extractors", callable, "a function (**options) -> Extractor")


@EXTRACTORS.register("identity", help="toy / tabular vectors as they are (flattened)")
def identity(**_: Any) -> Extractor:
    return Extractor("identity", lambda x: (x.flatten(1).float(), None))


@EXTRACTORS.register("digits-cnn", help="classifier trained on the bundled digits: 128-d features, 10 classes")
def digits_cnn(device: str | torch.device = "cpu", **_: Any) -> Extractor:
    from .digits_cnn import load_digits_cnn, prepare

    net, sha = load_digits_cnn()
    net = net.to(device)

    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h, logits = net(prepare(x))
        return h, logits.softmax(dim=1)

    return Extractor("digits-cnn", fn, sha, "grey, bilinear antialiased to 32×32", device=torch.device(device))


@EXTRACTORS.register("inception-v3-fid", help="FID Inception-v3 (pool3 2048-d); weights file from a path or cache, SHA-256 checked")
def inception_v3_fid(device: str | torch.device = "cpu", weights: str | None = None, download: bool = False, **_: Any) -> Extractor:
    from . import inception

    net = inception.load_fid_inception(weights, download=download, device=device)

    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = net(x)
        # The Inception Score's p(y|x): softmax of pool3 · Wᵀ *without* the bias, as Salimans et al.'s released
        # code and torch-fidelity compute it (FIDInceptionV3.probs says the same).
        return out["pool3"], out["logits_unbiased"].softmax(dim=1)

    return Extractor("inception-v3-fid", fn, inception.EXPECTED_SHA256,
                     "bilinear to 299×299 (align_corners=False), grey repeated to RGB", batch_size=64,
                     device=torch.device(device))


@EXTRACTORS.register("vgg19", help="VGG19 relu5_4 pooled (512-d), ImageNet weights from a path (vgg19-dcbb9e9a.pth or .safetensors)")
def vgg19(device: str | torch.device = "cpu", weights: str | None = None, **_: Any) -> Extractor:
    from ..errors import ConfigError
    from .vgg import load_vgg19

    if not weights:
        raise ConfigError("vgg19: needs ImageNet weights (torchvision's vgg19-dcbb9e9a.pth or a .safetensors) given as the weights path; "
                          "offline, use vgg19-random")
    net, sha = load_vgg19(weights, device=device)
    return Extractor("vgg19", lambda x: (net(x), None), sha, "none (any size ≥ 16 px), grey repeated to RGB", 64,
                     torch.device(device), net)


@EXTRACTORS.register("vgg19-random", help="VGG19 relu5_4 pooled (512-d) with a fixed seeded random initialization (no weights file)")
def vgg19_random(device: str | torch.device = "cpu", **_: Any) -> Extractor:
    from .vgg import VGG19

    net = VGG19(seed=0).to(device)
    return Extractor("vgg19-random", lambda x: (net(x), None), module_sha256(net), "none (any size ≥ 16 px), grey repeated to RGB",
                     64, torch.device(device), net)


def module_sha256(module: nn.Module) -> str:
    """SHA-256 over a module's state dict (names, shapes, bytes) — provenance for user extractors."""
    h = hashlib.sha256()
    for k, v in sorted(module.state_dict().items()):
        h.update(k.encode())
        h.update(str(tuple(v.shape)).encode())
        h.update(v.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


def from_module(module: nn.Module, name: str = "custom", probs: bool = False, batch_size: int = 256) -> Extractor:
    """Wrap a user ``nn.Module`` (N×… -> N×F features; with ``probs=True`` its output is softmaxed as class probabilities)."""
    module = module.eval()

    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        out = module(x)
        return out.flatten(1), (out.softmax(dim=1) if probs else None)

    return Extractor(name, fn, module_sha256(module), "none (the module's own)", batch_size)


def build_extractor(name: str, **options: Any) -> Extractor:
    return EXTRACTORS.get(name, "eval.extractor")(**options)
