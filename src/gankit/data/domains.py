"""Images in two or more domains, for image-to-image translation (pix2pix, CycleGAN, StarGAN) and domain adaptation (PixelDA).

A :class:`DomainData` is one of three kinds:

* ``paired`` (pix2pix): ``a`` N×C×R×R inputs and ``b`` N×C×R×R targets, row i of one the translation of row i of the
  other;
* ``unpaired`` (CycleGAN): ``a`` N×C×R×R images of domain A and ``b`` M×C×R×R images of domain B, no correspondence;
* ``domains`` (StarGAN): ``a`` N×C×R×R images and ``attrs`` N×c_dim their domain vector, made of the attributes in
  ``attributes`` (a binary attribute is one bit; one with k ≥ 3 values is k one-hot bits; :func:`encode_attrs`).

Offline sets, built from scikit-learn's bundled digits (1,438 train / 359 test images, the fixed split of
:func:`gankit.data.images.load_digits`) and patches of the sample photos of scikit-image and scikit-learn (nothing is
downloaded; training photos texture the train split, the two held-out photos the test split):

================  =========  ======================================================================================
dataset           kind       domains
================  =========  ======================================================================================
edges2digits      paired     A: Canny edges of each digit (σ = 1 px, white on black); B: the digit (pix2pix's
                             edges → photo, with the digit as the photo)
digits2color      unpaired   A: plain white-on-black digits; B: digits in a random saturated colour over a dimmed
                             photo texture (as MNIST-M). Train: A from the even-numbered train images, B from the
                             odd ones, so no digit appears in both; test: every test digit rendered both ways (the
                             B → A truth is known)
digits-attrs      domains    each digit with random attributes: color (white, red, green), thick (strokes dilated
                             by a 3×3 maximum) and texture (a photo background instead of black): c_dim = 5
digits-m          unpaired   MNIST-M's construction (Ganin & Lempitsky 2015) for domain adaptation (PixelDA): A: the
                             digits, grey in 3 channels; B: each digit blended over a random photo patch by the
                             absolute difference |patch − digit| per channel. Train: A from the even-numbered train
                             images, B from the odd ones (no target image is the adapted version of a source image);
                             test: every test digit both ways, B over the held-out photos
================  =========  ======================================================================================

Every offline image keeps its digit as ``label_a`` / ``label_b``: the content the translation must preserve, scored
by a frozen classifier (gankit.metrics.translation). A user's folders (``data.name=translation``, ``data.path``,
``data.layout``) are read by :mod:`gankit.data.layouts` and have no content labels.
"""
from __future__ import annotations

import colorsys
import functools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import ConfigError, DataError
from ..types import Batch
from .images.core import to_float

Tensor = torch.Tensor
KINDS = ("paired", "unpaired", "domains")
OFFLINE = {"edges2digits": "paired", "digits2color": "unpaired", "digits-attrs": "domains", "digits-m": "unpaired"}
#: digits-attrs' attributes and the stroke colour of each colour value (RGB in [0, 1])
DIGIT_ATTRIBUTES = (("color", ("white", "red", "green")), ("thick", ("0", "1")), ("texture", ("0", "1")))
_COLORS = {"white": (1.0, 1.0, 1.0), "red": (1.0, 0.15, 0.15), "green": (0.15, 1.0, 0.15)}


def attr_width(values: tuple[str, ...]) -> int:
    """Bits of one attribute in the domain vector: 1 for a binary one (values 0, 1), else one per value."""
    return 1 if len(values) == 2 else len(values)


def c_dim_of(attributes: tuple[tuple[str, tuple[str, ...]], ...]) -> int:
    return sum(attr_width(v) for _, v in attributes)


def encode_attrs(choices: Tensor, attributes: tuple[tuple[str, tuple[str, ...]], ...]) -> Tensor:
    """Value indices N×A (one column per attribute) -> domain vectors N×c_dim float (binary: the index as one bit;
    k-valued: one-hot)."""
    cols = []
    for j, (_, values) in enumerate(attributes):
        idx = choices[:, j].long()
        cols.append(idx[:, None].float() if len(values) == 2 else F.one_hot(idx, len(values)).float())
    return torch.cat(cols, 1)


def decode_attrs(vectors: Tensor, attributes: tuple[tuple[str, tuple[str, ...]], ...], logits: bool = False) -> Tensor:
    """Domain vectors N×c_dim (0/1, or a classifier's logits with ``logits``) -> value indices N×A: a binary bit
    above 0.5 (logits: above 0), a one-hot group by its argmax."""
    cut = 0.0 if logits else 0.5
    out, i = [], 0
    for _, values in attributes:
        w = attr_width(values)
        block = vectors[:, i:i + w]
        out.append((block[:, 0] > cut).long() if w == 1 else block.argmax(1))
        i += w
    return torch.stack(out, 1)


@dataclass
class DomainData:
    """Translation data in memory (see the module doc). Images are uint8; labels int64; attrs float32."""

    kind: str
    a: Tensor
    b: Tensor | None = None
    label_a: Tensor | None = None
    label_b: Tensor | None = None
    attrs: Tensor | None = None
    attributes: tuple[tuple[str, tuple[str, ...]], ...] = ()
    names: tuple[str, str] = ("A", "B")
    source: str = ""
    flip: bool = False
    classes: int = field(default=0)

    def __post_init__(self) -> None:
        if self.kind == "paired" and (self.b is None or len(self.b) != len(self.a)):
            raise DataError(f"{self.source}: {len(self.a)} inputs but {0 if self.b is None else len(self.b)} targets; pairs need one each")

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, R, R) of a translated image (the target domain's)."""
        t = self.b if self.b is not None else self.a
        return tuple(t.shape[1:])  # type: ignore[return-value]

    @property
    def c_dim(self) -> int:
        return c_dim_of(self.attributes)

    def __len__(self) -> int:
        return len(self.a)

    def joined(self, other: "DomainData") -> "DomainData":
        """This split followed by ``other`` (the ``all`` split): every tensor concatenated, the rest from this one."""
        def cat(u: Tensor | None, v: Tensor | None) -> Tensor | None:
            return None if u is None or v is None else torch.cat([u, v])

        return replace(self, a=cat(self.a, other.a), b=cat(self.b, other.b), label_a=cat(self.label_a, other.label_a),
                       label_b=cat(self.label_b, other.label_b), attrs=cat(self.attrs, other.attrs))

    def domain_info(self) -> dict[str, Any]:
        """What DataInfo.domains records."""
        return {"kind": self.kind, "names": list(self.names), "channels_a": int(self.a.shape[1]),
                "channels_b": int((self.b if self.b is not None else self.a).shape[1]),
                "attributes": [[n, list(v)] for n, v in self.attributes], "c_dim": self.c_dim, "classes": self.classes,
                "source": self.source, "sizes": [len(self.a), len(self.b) if self.b is not None else 0]}


# --------------------------------------------------------------------------- the offline sets


def _textures(n: int, size: int, split: str, seed: int) -> Tensor:
    """n texture patches N×3×R×R in [0, 1]: a 4R-pixel crop of a sample photo (train photos for train, the held-out
    ones for test), resized to R with antialiasing."""
    from .photos import BUNDLED_TEST, BUNDLED_TRAIN, bundled_path, read_photo

    photos = [read_photo(bundled_path(p), 3) for p in (BUNDLED_TEST if split == "test" else BUNDLED_TRAIN)]
    gen = torch.Generator().manual_seed(seed)
    crop = 4 * size
    out = []
    for _ in range(n):
        p = photos[int(torch.randint(len(photos), (1,), generator=gen))]
        top = int(torch.randint(p.shape[1] - crop + 1, (1,), generator=gen))
        left = int(torch.randint(p.shape[2] - crop + 1, (1,), generator=gen))
        out.append(p[:, top:top + crop, left:left + crop])
    x = torch.stack(out).float() / 255.0
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)


def render(strokes: Tensor, color: Tensor, thick: Tensor, background: Tensor | None, dim: float = 0.5) -> Tensor:
    """Digits drawn in colour: strokes N×1×R×R in [0, 1] (the grey digit), color N×3 in [0, 1], thick N bool (strokes
    dilated by a 3×3 maximum), background N×3×R×R in [0, 1] or None (black), dimmed by ``dim``. Returns uint8 N×3×R×R:
    background·(1 − m) + color·m with m the (dilated) strokes."""
    m = torch.where(thick[:, None, None, None], F.max_pool2d(strokes, 3, 1, 1), strokes)
    bg = torch.zeros_like(m.expand(-1, 3, -1, -1)) if background is None else background * dim
    out = bg * (1 - m) + color[:, :, None, None] * m
    return (out * 255).round().clamp(0, 255).to(torch.uint8)


def mnist_m_blend(strokes: Tensor, patches: Tensor) -> Tensor:
    """MNIST-M's blend (Ganin & Lempitsky 2015): digits strokes N×1×R×R in [0, 1] over photo patches N×3×R×R in [0, 1]
    by the absolute difference per channel, |patch − digit|. Returns uint8 N×3×R×R."""
    return ((patches - strokes).abs() * 255).round().clamp(0, 255).to(torch.uint8)


def _edges(digits: Tensor) -> Tensor:
    """Canny edges (σ = 1 px) of grey digits uint8 N×1×R×R -> uint8 N×1×R×R, 255 on an edge."""
    from skimage.feature import canny

    arr = digits[:, 0].numpy().astype(np.float64) / 255.0
    return torch.from_numpy(np.stack([canny(a, sigma=1.0) for a in arr]).astype(np.uint8) * 255)[:, None]


def _channels(x: Tensor, channels: int) -> Tensor:
    """uint8 N×C×R×R to ``channels`` (grey replicated, or RGB by ITU-R 601 luma)."""
    if x.shape[1] == channels:
        return x
    if channels == 3:
        return x.expand(-1, 3, -1, -1).contiguous()
    g = 0.299 * x[:, 0].float() + 0.587 * x[:, 1].float() + 0.114 * x[:, 2].float()
    return g.round().clamp(0, 255).to(torch.uint8)[:, None]


def _unpaired_digits(a: Tensor, b: Tensor, labels: Tensor, split: str, names: tuple[str, str], source: str) -> DomainData:
    """Two renderings of the same digits as unpaired domains: on the train split A from the even-numbered images and B
    from the odd ones (disjoint halves: no B image is the translation of an A image, nothing to pair); on the test split
    every digit both ways, so that the truth of a translation is known."""
    if split == "train":
        return DomainData("unpaired", a[0::2], b[1::2], labels[0::2], labels[1::2], names=names, source=source, classes=10)
    return DomainData("unpaired", a, b, labels, labels.clone(), names=names, source=source, classes=10)


@functools.lru_cache(maxsize=8)
def offline(name: str, split: str, resolution: int, channels: int) -> DomainData:
    """An offline set (see the module doc) for ``split`` (train, test or all) at R×R, C = ``channels`` (digits2color,
    digits-attrs and digits-m are colour sets: 3 channels whatever is asked). Cached; do not modify the tensors."""
    from .images import load_digits

    if split == "all":
        return offline(name, "train", resolution, channels).joined(offline(name, "test", resolution, channels))
    digits = load_digits(resolution=resolution, channels=1, split=split)
    grey, labels = digits.images, digits.labels
    seed = {"train": 1, "test": 2}[split]
    gen = torch.Generator().manual_seed(seed)
    source = f"{name}: scikit-learn digits ({split}) + sample-photo textures"
    if name == "edges2digits":
        return DomainData("paired", _channels(_edges(grey), channels), _channels(grey, channels), labels, labels.clone(),
                          names=("edges", "digits"), source=source.replace(" + sample-photo textures", ""), classes=10)
    strokes = grey.float() / 255.0
    n = len(grey)
    if name == "digits2color":
        hue = torch.rand(n, generator=gen)
        color = torch.tensor([colorsys.hsv_to_rgb(float(h), 0.9, 1.0) for h in hue])
        colored = render(strokes, color, torch.zeros(n, dtype=torch.bool), _textures(n, resolution, split, seed))
        plain = grey.expand(-1, 3, -1, -1).contiguous()
        return _unpaired_digits(plain, colored, labels, split, ("plain", "color"), source)
    if name == "digits-m":  # MNIST-M: |patch − digit| per channel, the digit's grey in every channel
        blended = mnist_m_blend(strokes, _textures(n, resolution, split, seed))
        plain = grey.expand(-1, 3, -1, -1).contiguous()
        return _unpaired_digits(plain, blended, labels, split, ("digits", "digits-m"), source)
    if name == "digits-attrs":
        choices = torch.stack([torch.randint(len(v), (n,), generator=gen) for _, v in DIGIT_ATTRIBUTES], 1)
        color = torch.tensor([_COLORS[DIGIT_ATTRIBUTES[0][1][i]] for i in choices[:, 0].tolist()])
        tex = _textures(n, resolution, split, seed)
        bg = torch.where(choices[:, 2].bool()[:, None, None, None], tex, torch.zeros_like(tex))
        x = render(strokes, color, choices[:, 1].bool(), bg)
        return DomainData("domains", x, None, labels, None, encode_attrs(choices, DIGIT_ATTRIBUTES), DIGIT_ATTRIBUTES,
                          names=("digits", "digits"), source=source, classes=10)
    raise ConfigError(f"data.name: {name!r} is not an offline translation set ({', '.join(OFFLINE)})")


def from_layout(cfg: Any, split: str) -> DomainData:
    """A user's folders (``data.path``, ``data.layout``; gankit.data.layouts)."""
    from . import layouts

    if split == "all":
        return from_layout(cfg, "train").joined(from_layout(cfg, "test"))
    layout = cfg.layout if cfg.layout != "auto" else layouts.detect_layout(cfg.path)
    r, c = cfg.resolution, cfg.channels
    src = f"{cfg.path} ({layout})"
    if layout == "unaligned":
        a, b, _, _ = layouts.read_unaligned(cfg.path, split, c, r)
        return DomainData("unpaired", a, b, names=("A", "B"), source=src, flip=cfg.flip)
    if layout in ("aligned", "parallel"):
        if layout == "aligned":
            a, b, _ = layouts.read_aligned(cfg.path, split, c, r, cfg.direction)
        else:
            a, b, _ = layouts.read_parallel(cfg.path, split, c, r)
            if cfg.direction == "BtoA":
                a, b = b, a
        return DomainData("paired", a, b, names=("A", "B") if cfg.direction == "AtoB" else ("B", "A"), source=src, flip=cfg.flip)
    if layout == "domains":
        x, idx, names = layouts.read_domains(cfg.path, split, c, r)
        attributes = (("domain", tuple(names)),) if len(names) != 2 else (("domain", ("0", "1")),)
        choices = idx[:, None]
        return DomainData("domains", x, attrs=encode_attrs(choices, attributes), attributes=attributes, names=tuple(names[:2]),
                          source=src + f": domains {', '.join(names)}", flip=cfg.flip)
    if layout == "celeba":
        if not cfg.attrs:
            raise ConfigError("data.attrs: the CelebA layout needs the attributes to translate, e.g. "
                              "data.attrs=[Black_Hair,Blond_Hair,Brown_Hair,Male,Young] (StarGAN's)")
        x, vec, _ = layouts.read_celeba(cfg.path, split, c, r, list(cfg.attrs))
        attributes = tuple((a, ("0", "1")) for a in cfg.attrs)
        return DomainData("domains", x, attrs=vec, attributes=attributes, source=src, flip=cfg.flip)
    raise ConfigError(f"data.layout: {layout!r} is not one of auto, {', '.join(layouts.LAYOUTS)}")


# --------------------------------------------------------------------------- batches and fixed evaluation items


def eval_items(data: DomainData, n: int, seed: int = 0) -> Batch:
    """The first n test items in a seeded order, the same for every caller: ``a`` (and ``b`` when paired or unpaired,
    the first n of B's own order), ``label_a`` / ``label_b`` where known; for StarGAN data ``attrs`` (own) and
    ``target`` (a random domain vector different from the own one). CPU tensors, images float in [-1, 1]."""
    gen = torch.Generator().manual_seed(20_011 + seed)
    ia = torch.randperm(len(data.a), generator=gen)[:n]
    out = Batch(a=to_float(data.a[ia]))
    if data.label_a is not None:
        out["label_a"] = data.label_a[ia]
    if data.b is not None:
        ib = ia if data.kind == "paired" else torch.randperm(len(data.b), generator=gen)[:n]
        out["b"] = to_float(data.b[ib])
        if data.label_b is not None:
            out["label_b"] = data.label_b[ib]
    if data.kind == "domains":
        own = data.attrs[ia]
        out["attrs"] = own
        out["target"] = random_targets(own, data.attributes, gen)
    return out


def random_targets(own: Tensor, attributes: tuple[tuple[str, tuple[str, ...]], ...], gen: torch.Generator) -> Tensor:
    """A uniformly random domain vector per row that differs from ``own`` (N×c_dim) in at least one attribute."""
    own_idx = decode_attrs(own, attributes)
    sizes = torch.tensor([len(v) for _, v in attributes])
    draw = (torch.rand(len(own), len(attributes), generator=gen) * sizes).long()
    same = (draw == own_idx).all(1)
    while same.any():  # redraw the rows that equal their own vector
        draw[same] = (torch.rand(int(same.sum()), len(attributes), generator=gen) * sizes).long()
        same = (draw == own_idx).all(1)
    return encode_attrs(draw, attributes)


class DomainBatches:
    """Training batches on the device, drawn with replacement by a seeded generator (its state is the whole state):
    paired ``input`` (A) and ``x`` (B); unpaired ``a`` and ``b`` drawn independently; domains ``x`` and ``attrs``.
    With ``flip`` every item is mirrored left-right with probability 1/2 (both images of a pair alike)."""

    def __init__(self, data: DomainData, batch_size: int, device: torch.device, seed: int, shard: tuple[int, int] = (0, 1)) -> None:
        self.data, self.batch_size, self.device = data, batch_size, device
        self.rank, self.world = shard
        self.gen = torch.Generator().manual_seed(seed)
        self.a = data.a.to(device)
        self.b = data.b.to(device) if data.b is not None else None
        self.attrs = data.attrs.to(device) if data.attrs is not None else None

    def _draw(self, size: int) -> Tensor:
        return torch.randint(size, (self.batch_size,), generator=self.gen)

    def next(self) -> Batch:
        d = self.data
        ia = self._draw(len(d.a))
        flip = torch.rand(self.batch_size, generator=self.gen) < 0.5 if d.flip else None
        n = self.batch_size // self.world
        sl = slice(self.rank * n, (self.rank + 1) * n)

        def take(images: Tensor, idx: Tensor) -> Tensor:
            x = to_float(images[idx[sl].to(images.device)])
            if flip is not None:
                x = torch.where(flip[sl].to(x.device)[:, None, None, None], x.flip(3), x)
            return x

        if d.kind == "paired":
            return Batch(input=take(self.a, ia), x=take(self.b, ia))
        if d.kind == "unpaired":
            ib = self._draw(len(d.b))
            return Batch(a=take(self.a, ia), b=take(self.b, ib))
        return Batch(x=take(self.a, ia), attrs=self.attrs[ia[sl].to(self.attrs.device)])

    def sample_reference(self, n: int, seed: int = 0) -> Tensor:
        """n target-domain images (CPU, [-1, 1]) from a separate generator: the training stream is not advanced."""
        t = self.data.b if self.data.b is not None else self.data.a
        idx = torch.randint(len(t), (n,), generator=torch.Generator().manual_seed(seed))
        return to_float(t[idx])

    def state_dict(self) -> dict[str, Any]:
        return {"gen": self.gen.get_state().tolist()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.gen.set_state(torch.tensor(state["gen"], dtype=torch.uint8))


__all__ = ["DIGIT_ATTRIBUTES", "KINDS", "OFFLINE", "DomainBatches", "DomainData", "attr_width", "c_dim_of", "decode_attrs",
           "encode_attrs", "eval_items", "from_layout", "mnist_m_blend", "offline", "random_targets", "render"]
