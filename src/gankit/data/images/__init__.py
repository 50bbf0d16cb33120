"""Image datasets: scikit-learn's bundled digits, image folders, MNIST IDX files, CIFAR batches.

All loaders return an :class:`ImageData` (uint8 images N×C×H×W and optional labels) that the batch
sources put on the training device as one tensor; folders too large for memory stream instead
(:class:`FolderStream`). Nothing is downloaded and nothing a user gives us is unpickled.

One module per format: :mod:`.digits`, :mod:`.mnist`, :mod:`.cifar`, :mod:`.folder`; :mod:`.core` holds
:class:`ImageData`, the uint8 <-> float conversions and the helpers they share. Everything is importable from
``gankit.data.images`` as before the split.
"""
from __future__ import annotations

from .cifar import load_cifar
from .core import FewLabelData, ImageData, few_labels, quantize, select_classes, to_float, to_uint8
from .digits import load_digits
from .folder import FolderStream, load_folder, load_image
from .mnist import load_mnist

__all__ = ["FewLabelData", "FolderStream", "ImageData", "few_labels", "load_cifar", "load_digits", "load_folder", "load_image", "load_mnist", "select_classes",
           "quantize", "to_float", "to_uint8"]
