"""VGG19 (Simonyan & Zisserman 2015) as a feature network: the perceptual losses of SRGAN and ESRGAN and a feature
extractor for restoration scores.

The layer layout is torchvision's ``vgg19().features`` (sixteen 3×3 convolutions conv1_1 … conv5_4 with ReLU, five
2×2 max pools), so its ImageNet weights load by name: ``features.<i>.weight`` / ``features.<i>.bias`` for the conv
indices in :data:`CONV_INDICES`. Inputs in gankit's [-1, 1] are mapped to [0, 1] and normalised with ImageNet's mean
(0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225); grey inputs are repeated to RGB.

:meth:`VGG19.maps` returns the map of a named layer **before** its ReLU (``conv5_4``: ESRGAN's choice, "features
before activation") or after it (``relu5_4``: SRGAN's φ5,4; ``relu2_2``: its φ2,2).

Weights: :func:`load_vgg19` reads a ``.safetensors`` file (nothing can execute), or torchvision's published
``vgg19-dcbb9e9a.pth`` only when its SHA-256 starts with ``dcbb9e9a`` (torchvision names each weights file by the
first hex digits of its SHA-256) or equals a digest the caller gives — checked on the very bytes then passed to
``torch.load(weights_only=True)``. No download happens here.

Without ImageNet weights, ``vgg19-random`` is the same network with a fixed seeded Kaiming initialization: a random
embedding, which Naeem et al. (2020, "Reliable Fidelity and Diversity Metrics for Generative Models", §4) found a
usable feature space for images unlike ImageNet's; it is what the offline presets and benchmarks use, and every
result names it.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from ..errors import DataError
from .lpips import _check_sha, _read_verified, _torch_load

Tensor = torch.Tensor
LAYOUT = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
CONV_INDICES = (0, 2, 5, 7, 10, 12, 14, 16, 19, 21, 23, 25, 28, 30, 32, 34)
CONV_NAMES = tuple(f"conv{b}_{i}" for b, n in ((1, 2), (2, 2), (3, 4), (4, 4), (5, 4)) for i in range(1, n + 1))
SHA256_PREFIX = "dcbb9e9a"  # torchvision's vgg19-dcbb9e9a.pth
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VGG19(nn.Module):
    """The convolutional part of VGG19 (see the module doc); frozen."""

    def __init__(self, seed: int | None = 0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        c = 3
        for v in LAYOUT:
            if v == "M":
                layers.append(nn.MaxPool2d(2))
            else:
                layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU()]
                c = v
        self.features = nn.Sequential(*layers)
        if seed is not None:  # a fixed random embedding (vgg19-random); the global RNG is left as it was
            gen = torch.Generator().manual_seed(seed)
            for i in CONV_INDICES:
                conv = self.features[i]
                fan_in = conv.weight[0].numel()
                conv.weight.data = torch.randn(conv.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5
                conv.bias.data.zero_()
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1))
        self.requires_grad_(False).eval()

    def normalize(self, x: Tensor) -> Tensor:
        """N×C×H×W in [-1, 1] (C = 1 or 3) -> ImageNet-normalised RGB."""
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        return ((x + 1) / 2 - self.mean.to(x.dtype)) / self.std.to(x.dtype)

    def maps(self, x: Tensor, layer: str) -> Tensor:
        """The feature map of ``layer`` (``convB_I`` before its ReLU, ``reluB_I`` after) for x in [-1, 1]; differentiable
        in x (the network's own weights are frozen)."""
        kind, _, name = layer.partition("_")
        conv = f"conv{kind[-1]}_{name}"
        if kind[:-1] not in ("conv", "relu") or conv not in CONV_NAMES:
            raise ValueError(f"unknown VGG19 layer {layer!r}; use conv1_1 … conv5_4 or relu1_1 … relu5_4")
        stop = CONV_INDICES[CONV_NAMES.index(conv)] + (2 if kind.startswith("relu") else 1)
        return self.features[:stop](self.normalize(x))

    def forward(self, x: Tensor) -> Tensor:
        """N×512 features: relu5_4 averaged over positions."""
        return self.maps(x, "relu5_4").mean((2, 3))


def load_vgg19(path: str | os.PathLike, sha256: str | None = None, device: str | torch.device = "cpu") -> tuple[VGG19, str]:
    """VGG19 with ImageNet weights from ``path`` (see the module doc); returns (the frozen network, the file's SHA-256).

    Raises DataError (one line) when the file is missing, its digest does not match, it is not a state dict of the
    expected keys and shapes, or ``torch.load(weights_only=True)`` refuses it; nothing is loaded then."""
    import hashlib

    p = Path(path).expanduser()
    expected = _check_sha(sha256, "vgg19 sha256") if sha256 is not None else None
    if p.suffix.lower() == ".safetensors":
        p, data = _read_verified(p, expected, "VGG19 weights file")
        from safetensors.torch import load as load_safetensors

        try:
            state = load_safetensors(data)
        except Exception as e:  # SafetensorError, ValueError, RuntimeError
            raise DataError(f"{p}: not a readable safetensors file ({type(e).__name__}); give vgg19 weights") from None
    elif p.suffix.lower() in (".pth", ".pt"):
        p, data = _read_verified(p, expected, "VGG19 weights file")
        digest = hashlib.sha256(data).hexdigest()
        if expected is None and not digest.startswith(SHA256_PREFIX):
            raise DataError(f"{p}: SHA-256 {digest[:16]}… is not torchvision's vgg19-{SHA256_PREFIX}.pth; give that file, a "
                            ".safetensors, or its sha256")
        state = _torch_load(p, data)
    else:
        raise DataError(f"{p}: unknown weights format {p.suffix!r}; give vgg19-{SHA256_PREFIX}.pth or a .safetensors file")
    digest = hashlib.sha256(data).hexdigest()
    net = VGG19(seed=None)
    want = {f"features.{i}.{k}": net.features[i].__getattr__(k).shape for i in CONV_INDICES for k in ("weight", "bias")}
    if not isinstance(state, dict):
        raise DataError(f"{p}: expected a state dict (name -> tensor), got {type(state).__name__}")
    for key, shape in want.items():
        got = state.get(key)
        if not isinstance(got, torch.Tensor) or tuple(got.shape) != tuple(shape):
            raise DataError(f"{p}: key {key!r} missing or not of shape {tuple(shape)}; not VGG19 weights (torchvision layout)")
    net.load_state_dict({k: state[k].float() for k in want} | {"mean": net.mean, "std": net.std})
    return net.to(device), digest


def perceptual_distance(net: VGG19, x: Tensor, y: Tensor, layer: str, kind: str = "l1") -> Tensor:
    """Per-image distance of two batches' ``layer`` maps (N): mean absolute (``l1``, ESRGAN) or squared (``l2``, SRGAN)
    difference over channels and positions; y's map carries no gradient."""
    fx = net.maps(x, layer).float()
    with torch.no_grad():
        fy = net.maps(y, layer).float()
    d = (fx - fy).abs() if kind == "l1" else (fx - fy).pow(2)
    return d.flatten(1).mean(1)


__all__ = ["VGG19", "CONV_INDICES", "CONV_NAMES", "SHA256_PREFIX", "load_vgg19", "perceptual_distance"]
