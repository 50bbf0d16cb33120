"""The two shapes data takes in gankit: a :class:`Batch` of named tensors, and the :class:`Schema` of a dataset.

A **Batch** is what a data source hands a training phase: named tensors of one mini-batch. Every schema has ``x``
(the samples as the model sees them); labelled data adds ``label``. Schemas that come later name their own parts
(a paired image, a domain index, table columns, graph tensors) instead of growing positional tuples.

A **Schema** says what kind of samples a dataset holds, and with it, in one place, everything that depends on that:
how samples are drawn (a scatter plot of points, a grid of images), which feature extractor and which metrics apply
by default, and which panels the report shows. Code asks the schema; it never tests a dataset's name or kind.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ConfigError


class Batch(dict):
    """Named tensors of one batch: ``batch["x"]`` or ``batch.x``.

    Keys used so far: ``x`` — N×D points, N×C×H×W images in data space ([-1, 1] for images), or N×D encoded table rows;
    ``label`` — N int64 class labels, present only for labelled data; for tables with discrete columns CTGAN's
    training-by-sampling draw: ``cond`` (N×C conditional vectors), ``cond_column`` (N int64) and ``x_cond`` (N×D rows
    having the asked categories); for molecular graphs ``nodes`` (N×M×T one-hot atom types, also ``x``) and ``edges``
    (N×M×M×B one-hot bond types); for restoration pairs ``input`` (the degraded image: N×C×h×w low-resolution, or
    the masked image) and, for inpainting, ``mask`` (N×1×H×W, 1 in the hole), with ``x`` the target; for the few-label
    protocol with unlabelled images ``x`` (every image, labels hidden) and ``xl`` / ``yl`` (labelled images, labels).
    """

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"this batch has no {name!r}; it has: {', '.join(self) or 'nothing'}") from None

    def get_label(self) -> Any:
        """The labels, or None for unlabelled data."""
        return self.get("label")

    @property
    def n(self) -> int:
        """The number of samples (rows of ``x``)."""
        return int(self["x"].shape[0])


@dataclass(frozen=True)
class Schema:
    """What kind of samples a dataset holds, and what follows from it.

    Attributes:
        name: the schema's name (``points``, ``image``).
        sample: one sample's shape, in words (for docs and errors).
        render: how a set of samples is drawn: ``scatter`` (points over the true modes) or ``grid`` (images).
        extractor: the default feature extractor of the metrics (a dataset may name a better one).
        metrics: the metrics ``gankit evaluate --real-vs-real`` computes by default.
        report: the report's panels beyond curves, samples, health and evaluations.
        data_space: the range samples live in, in words.
        quantized: generated samples are rounded to the data's 8-bit grid before they are scored, exactly as real
            ones reach the extractor (StyleGAN2-ADA's metric code: ``(x·127.5 + 128).clamp(0, 255)`` to uint8).
    """

    name: str
    sample: str
    render: str
    extractor: str
    metrics: tuple[str, ...]
    report: tuple[str, ...]
    data_space: str
    quantized: bool = False


SCHEMAS: dict[str, Schema] = {
    "points": Schema("points", "D coordinates", "scatter", "identity", ("modes",), ("animation",), "the mixture's plane"),
    "image": Schema("image", "C×H×W pixels", "grid", "inception-v3-fid", ("fid", "kid", "pr", "dc", "classes"),
                    ("interpolation", "classes", "nearest"), "[-1, 1], 8-bit steps", quantized=True),
    "table": Schema("table", "a row of typed columns", "table", "identity", ("quality", "efficacy", "privacy", "detection"),
                    ("columns",), "codes: numbers, seconds since 1970, category indices; NaN missing"),
    "graph": Schema("graph", "a molecular graph: M atom types, M×M bond types", "molecules", "identity",
                    ("molecules",), ("molecules",), "atom and bond type indices (0: none); SMILES on the way out"),
    "pairs": Schema("pairs", "an input image and its C×H×W target (a low-resolution or masked patch -> the photo patch)", "pairs",
                    "vgg19-random", ("restoration",), ("pairs",), "[-1, 1], 8-bit steps", quantized=True),
    "domains": Schema("domains", "a C×H×W image in one of two or more domains (paired, unpaired or with attribute vectors)", "pairs",
                      "identity", ("translation",), ("translations",), "[-1, 1], 8-bit steps", quantized=True),
}

#: names earlier exports used for a schema ("kind": "toy" in generator/config.json before the task engine)
LEGACY_NAMES = {"toy": "points"}


def schema(name: str) -> Schema:
    """The schema called ``name`` (legacy names accepted); a one-line ConfigError for unknown ones."""
    name = LEGACY_NAMES.get(name, name)
    try:
        return SCHEMAS[name]
    except KeyError:
        raise ConfigError(f"unknown data schema {name!r}; known: {', '.join(SCHEMAS)}") from None


__all__ = ["Batch", "Schema", "SCHEMAS", "schema"]
