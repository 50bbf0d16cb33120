"""Scoring translated images: does the content survive, does the result look like the target domain?

Frozen classifiers, trained once per dataset on its train split (deterministic, cached on disk under a hash of the
data and the recipe, SHA-256 of the weights in every result), play the part of pix2pix's FCN-score and StarGAN's
classification error:

* the **domain classifier**: A vs B (two-domain data), or every attribute of a domain vector (StarGAN data; one
  logit per binary attribute, a softmax group per k-valued one);
* a **content classifier** per domain whose images carry content labels (the offline digit sets: the digit), trained
  on that domain's own images, so it reads a translated image the way it reads real images of the target domain.

Outputs arrive as a dict of the fixed test items' translations (:func:`gankit.data.domains.eval_items` order):
``ab`` (A → B; StarGAN: to the random target vector), ``ba`` (B → A, CycleGAN), ``aba`` / ``bab`` (back again).

==============  ======================================================================================================
value           meaning
==============  ======================================================================================================
domain_acc      fraction of A → B outputs the domain classifier puts in B (StarGAN: with every target attribute right)
attr_acc        StarGAN: mean over attributes of the fraction classified as the target value (1 − classification error);
                ``acc_by_attribute`` gives each attribute's
content_acc     fraction of A → B outputs whose content (digit) the target domain's content classifier reads as the
                source image's (where labels exist)
success         fraction of outputs that are both in the target domain (all target attributes) and keep their digit:
                the analogue of pix2pix's FCN-score, which asks for the right class of the right domain
fid             FID between A → B outputs and real test images of the target domain, on the penultimate features of
                the domain classifier and the target domain's content classifier side by side (256-d; the domain
                classifier's alone without labels), so that both style and content count; StarGAN: against a real
                test image of each output's target attributes (:func:`matched_reference`)
l1, psnr, ssim  paired data: against the ground truth (l1 in [-1, 1] units; PSNR / SSIM on the 8-bit images, all
                channels)
cycle_l1        CycleGAN: mean |F(G(a)) − a| and |G(F(b)) − b|; StarGAN: |G(G(x, c), c_own) − x| (reconstruction)
*_ba            the same for B → A outputs (CycleGAN)
==============  ======================================================================================================
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
from typing import Any

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from torch import nn

from ..data.domains import DomainData, attr_width, decode_attrs, eval_items
from ..data.images import quantize, to_float
from ..errors import ConfigError
from ..version import __version__
from ._common import cache_root
from .fid import fid
from .restoration import psnr, ssim, to_uint8_range

Tensor = torch.Tensor
RECIPE = {"arch": "conv32-64-128-fc128", "epochs": 8, "batch": 64, "lr": 1e-3, "shift": 2, "seed": 0, "version": 1}
VALUES = {"domain_acc": True, "attr_acc": True, "content_acc": True, "success": True, "fid": False, "l1": False, "psnr": True, "ssim": True,
          "cycle_l1": False, "domain_acc_ba": True, "content_acc_ba": True, "success_ba": True,
          "fid_ba": False}


class DomainCNN(nn.Module):
    """A small classifier: ``forward(x: N×C×R×R in [-1, 1]) -> (features N×128, logits N×outputs)``."""

    def __init__(self, channels: int, outputs: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(4),
            nn.Flatten(), nn.Linear(128 * 16, 128), nn.ReLU())
        self.head = nn.Linear(128, outputs)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        h = self.body(x)
        return h, self.head(h)


def attribute_loss(logits: Tensor, target: Tensor, attributes: Any) -> Tensor:
    """Classification loss of domain vectors, summed over attributes (mean over the batch): binary cross-entropy for a
    one-bit attribute, cross-entropy over the group for a k-valued one (the StarGAN classification term ℒ_cls)."""
    loss, i = logits.new_zeros(()), 0
    for _, values in attributes:
        w = attr_width(tuple(values))
        if w == 1:
            loss = loss + F.binary_cross_entropy_with_logits(logits[:, i], target[:, i])
        else:
            loss = loss + F.cross_entropy(logits[:, i:i + w], target[:, i:i + w].argmax(1))
        i += w
    return loss


def _shift(x: Tensor, gen: torch.Generator, k: int) -> Tensor:
    dx, dy = (int(v) for v in torch.randint(-k, k + 1, (2,), generator=gen))
    return torch.roll(x, (dy, dx), dims=(2, 3))


def train_classifier(images: Tensor, targets: Tensor, kind: str, attributes: Any = ()) -> DomainCNN:
    """Train a :class:`DomainCNN` with :data:`RECIPE` (deterministic on the CPU): ``kind`` ``classes`` (targets int64
    class indices) or ``attributes`` (targets N×c_dim domain vectors)."""
    x = to_float(images)
    outputs = int(targets.max()) + 1 if kind == "classes" else targets.shape[1]
    gen = torch.Generator().manual_seed(RECIPE["seed"])
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RECIPE["seed"])
        net = DomainCNN(x.shape[1], outputs)
    opt = torch.optim.Adam(net.parameters(), lr=RECIPE["lr"])
    for _ in range(RECIPE["epochs"]):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), RECIPE["batch"]):
            idx = perm[i:i + RECIPE["batch"]]
            _, logits = net(_shift(x[idx], gen, RECIPE["shift"]))
            loss = F.cross_entropy(logits, targets[idx]) if kind == "classes" else attribute_loss(logits, targets[idx], attributes)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return net.eval().requires_grad_(False)


def _data_key(data: DomainData, what: str) -> str:
    """A hash of what determines a classifier: the recipe, what it classifies, and the training images themselves."""
    h = hashlib.sha256(json.dumps({"recipe": RECIPE, "what": what, "info": data.domain_info()}, sort_keys=True).encode())
    for t in (data.a, data.b, data.attrs, data.label_a, data.label_b):
        if t is not None:
            h.update(t.contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def classifier(data: DomainData, what: str) -> tuple[DomainCNN, str]:
    """The cached classifier ``what`` of the train-split ``data``: ``domain`` (A vs B, or the attributes),
    ``content_a`` or ``content_b`` (the content labels of that domain's images); and the SHA-256 of its weights."""
    if what == "domain":
        if data.kind == "domains":
            images, targets, kind = data.a, data.attrs, "attributes"
        else:
            images = torch.cat([data.a, data.b])
            targets, kind = torch.cat([torch.zeros(len(data.a)), torch.ones(len(data.b))]).long(), "classes"
    else:
        side = what[-1]
        images, targets = (data.a, data.label_a) if side == "a" else (data.b, data.label_b)
        if targets is None:
            raise ConfigError(f"{what}: this data has no content labels")
        kind = "classes"
    outputs = targets.shape[1] if kind == "attributes" else int(targets.max()) + 1
    path = cache_root() / "extractors" / f"translation-{what}-{_data_key(data, what)}.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # concurrent processes: one trains, the others wait and load
        if not path.is_file():
            net = train_classifier(images, targets, kind, data.attributes)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            os.close(fd)
            save_file({k: v.contiguous() for k, v in net.state_dict().items()}, tmp)
            os.replace(tmp, path)
    net = DomainCNN(images.shape[1], outputs)
    net.load_state_dict(load_file(str(path)))
    return net.eval().requires_grad_(False), hashlib.sha256(path.read_bytes()).hexdigest()


@torch.inference_mode()
def _run(net: DomainCNN, x: Tensor, batch: int = 512) -> tuple[Tensor, Tensor]:
    outs = [net(x[i:i + batch].float()) for i in range(0, len(x), batch)]
    return torch.cat([o[0] for o in outs]), torch.cat([o[1] for o in outs])


def _features(nets: list[DomainCNN], x: Tensor) -> Tensor:
    """The penultimate features of several classifiers side by side (N×128k, float64): FID's feature space."""
    return torch.cat([_run(net, x)[0] for net in nets], 1).double()


def _side(out: Tensor, source_labels: Tensor | None, real_target: Tensor, target_is_b: bool,
          nets: dict[str, tuple[DomainCNN, str]], suffix: str) -> dict[str, float]:
    """domain_acc, content_acc and fid of outputs translated into one domain of two-domain data."""
    dom, _ = nets["domain"]
    _, logits = _run(dom, out)
    in_domain = logits.argmax(1) == int(target_is_b)
    res = {f"domain_acc{suffix}": float(in_domain.float().mean())}
    content = "content_b" if target_is_b else "content_a"
    feature_nets = [dom]
    if content in nets:
        feature_nets.append(nets[content][0])
        _, c_logits = _run(nets[content][0], out)
        kept = c_logits.argmax(1) == source_labels
        res[f"content_acc{suffix}"] = float(kept.float().mean())
        res[f"success{suffix}"] = float((in_domain & kept).float().mean())
    res[f"fid{suffix}"] = fid(_features(feature_nets, real_target).numpy(), _features(feature_nets, out).numpy())
    return res


def matched_reference(test: DomainData, targets: Tensor, seed: int = 0) -> Tensor:
    """Real test images in the target domains (StarGAN's FID reference): for each target vector a random test image
    with exactly those attributes (with replacement; a target no test image has is skipped). N'×C×R×R in [-1, 1]."""
    gen = torch.Generator().manual_seed(30_011 + seed)
    own = test.attrs
    picks = []
    for t in targets:
        match = torch.nonzero((own == t).all(1)).flatten()
        if len(match):
            picks.append(int(match[int(torch.randint(len(match), (1,), generator=gen))]))
    if len(picks) < 2:
        raise ConfigError("translation: fewer than 2 test images have the target attributes; the test split is too small for FID")
    return to_float(test.a[torch.tensor(picks)])


def translation_scores(outputs: dict[str, Tensor], train: DomainData, test: DomainData, seed: int = 0) -> dict[str, Any]:
    """Score translations of the first N fixed test items (N = len(outputs["ab"])) of ``test``; classifiers from
    ``train`` (see the module doc). Images in [-1, 1]; they are put on the 8-bit grid first."""
    outputs = {k: quantize(v.float().clamp(-1, 1)) for k, v in outputs.items()}
    n = len(outputs["ab"])
    items = eval_items(test, n, seed)
    nets = {"domain": classifier(train, "domain")}
    for side, labels in (("a", train.label_a), ("b", train.label_b)):
        if labels is not None:
            nets[f"content_{side}"] = classifier(train, f"content_{side}")
    res: dict[str, Any] = {}
    if train.kind == "domains":
        dom, _ = nets["domain"]
        _, logits = _run(dom, outputs["ab"])
        got, want = decode_attrs(logits, train.attributes, logits=True), decode_attrs(items["target"], train.attributes)
        res["domain_acc"] = float((got == want).all(1).float().mean())
        res["attr_acc"] = float((got == want).float().mean())
        res["acc_by_attribute"] = {name: float((got[:, j] == want[:, j]).float().mean()) for j, (name, _) in enumerate(train.attributes)}
        feature_nets = [dom]
        if "content_a" in nets:
            feature_nets.append(nets["content_a"][0])
            _, c = _run(nets["content_a"][0], outputs["ab"])
            kept = c.argmax(1) == items["label_a"]
            res["content_acc"] = float(kept.float().mean())
            res["success"] = float(((got == want).all(1) & kept).float().mean())
        reference = matched_reference(test, items["target"], seed)
        res["fid"] = fid(_features(feature_nets, reference).numpy(), _features(feature_nets, outputs["ab"]).numpy())
        if "aba" in outputs:
            res["cycle_l1"] = float((outputs["aba"] - items["a"]).abs().mean())
    else:
        res.update(_side(outputs["ab"], items.get("label_a"), items["b"], True, nets, ""))
        if "ba" in outputs:
            res.update(_side(outputs["ba"], items.get("label_b"), items["a"], False, nets, "_ba"))
        if train.kind == "paired":
            truth = items["b"]
            res["l1"] = float((outputs["ab"] - truth).abs().mean())
            a8, b8 = to_uint8_range(outputs["ab"]).double(), to_uint8_range(truth).double()
            res["psnr"] = float(psnr(a8, b8).mean())
            res["ssim"] = float(ssim(a8, b8).mean()) if min(truth.shape[-2:]) >= 11 else float("nan")
        cyc = [(outputs[k] - items[s]).abs().mean() for k, s in (("aba", "a"), ("bab", "b")) if k in outputs]
        if cyc:
            res["cycle_l1"] = float(torch.stack(cyc).mean())
    res.update({"classifiers": {k: v[1] for k, v in nets.items()}, "classifier_recipe": dict(RECIPE), "n_items": n,
                "fake_8bit": True, "seed": seed, "gankit_version": __version__})
    return res


def identity_outputs(test: DomainData, n: int, seed: int = 0) -> dict[str, Tensor]:
    """The identity map's "translations" of the fixed test items: the floor every translator must beat."""
    items = eval_items(test, n, seed)
    out = {"ab": items["a"]}
    if test.kind == "unpaired":
        out["ba"] = items["b"]
    return out


def register(metrics: Any, metric_cls: Any) -> None:
    """Put the ``translation`` metric into the METRICS registry (called by gankit.metrics.evaluate)."""
    def unusable(i: Any) -> dict[str, float]:
        raise ConfigError("translation scores translated test images; evaluate a pix2pix, cyclegan or stargan run")

    metrics.register("translation", metric_cls(unusable, dict(VALUES), ("domains",)),
                     help="translated images: frozen domain / attribute and content classifiers, FID in the target domain, "
                          "paired L1 / PSNR / SSIM, cycle reconstruction")


def evaluate_domains(outputs: Any, info: Any, data_cfg: Any, metrics: list[str], seed: int = 0) -> dict[str, Any]:
    """The ``translation`` metric for a run's data config (classifiers from its train split, items from its test split)."""
    from ..data import build_dataset

    if not isinstance(outputs, dict):
        raise ConfigError("--metrics translation: give the translator's outputs of the fixed test items (a dict of ab, ba, ...)")
    return {"metrics": list(metrics), **translation_scores(outputs, build_dataset(data_cfg, "train"), build_dataset(data_cfg, "test"),
                                                            seed),
            "reference": f"{data_cfg.name}/test items (seed {seed})"}


__all__ = ["DomainCNN", "RECIPE", "VALUES", "attribute_loss", "classifier", "evaluate_domains", "identity_outputs", "register",
           "matched_reference", "train_classifier", "translation_scores"]
