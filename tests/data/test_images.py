"""Tests for gankit.data.images (digits, IDX, CIFAR, folders) and its restricted pickle reader."""
from __future__ import annotations

import gzip
import os
import pickle
import struct

import numpy as np
import pytest
import torch
from PIL import Image, features

from gankit.data.images import FolderStream, ImageData, load_cifar, load_digits, load_folder, load_mnist
from gankit.errors import ConfigError, DataError


def raises_one_line(exc_type, match=None):
    """pytest.raises that also checks the message is one line (house rule 11)."""

    class _Check:
        def __enter__(self):
            self.cm = pytest.raises(exc_type, match=match)
            self.info = self.cm.__enter__()
            return self.info

        def __exit__(self, *exc):
            suppressed = self.cm.__exit__(*exc)
            message = str(self.info.value)
            assert "\n" not in message and message.strip() == message and message, repr(message)
            return suppressed

    return _Check()


# --------------------------------------------------------------------------------------------------
# digits
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sk_digits():
    from sklearn.datasets import load_digits as sk_load

    bunch = sk_load()
    return bunch.images, bunch.target


@pytest.mark.parametrize("split,count", [("train", 1438), ("test", 359), ("all", 1797)])
def test_digits_split_sizes_and_types(split, count):
    data = load_digits(split=split)
    assert isinstance(data, ImageData)
    assert data.images.shape == (count, 1, 32, 32)
    assert data.images.dtype == torch.uint8
    assert data.labels.dtype == torch.int64 and data.labels.shape == (count,)
    assert data.class_names == [str(i) for i in range(10)]
    assert data.num_classes == 10 and data.shape == (1, 32, 32)
    assert sorted(data.labels.unique().tolist()) == list(range(10))


def test_digits_split_is_every_fifth_image(sk_digits):
    _, target = sk_digits
    test = load_digits(split="test")
    train = load_digits(split="train")
    assert test.labels.tolist() == target[4::5].tolist()
    index = np.arange(len(target))
    assert train.labels.tolist() == target[index % 5 != 4].tolist()
    every = load_digits(split="all")
    assert every.labels.tolist() == target.tolist()
    assert torch.equal(every.images[4::5], test.images)


@pytest.mark.parametrize("resolution", [16, 64])
def test_digits_resolution(resolution):
    data = load_digits(resolution=resolution, split="test")
    assert data.images.shape == (359, 1, resolution, resolution)


def test_digits_three_channels_replicate_grey():
    grey = load_digits(split="test")
    rgb = load_digits(channels=3, split="test")
    assert rgb.images.shape == (359, 3, 32, 32)
    for c in range(3):
        assert torch.equal(rgb.images[:, c], grey.images[:, 0])


def test_digits_values_at_native_resolution_and_brightness(sk_digits):
    images, _ = sk_digits
    native = load_digits(resolution=8, split="all").images[:, 0].numpy()
    assert np.array_equal(native, np.rint(images * 255 / 16).astype(np.uint8))
    expected = images.mean(axis=(1, 2)) * 255 / 16
    for resolution in (16, 32):
        got = load_digits(resolution=resolution, split="all").images.float().mean(dim=(1, 2, 3)).numpy()
        assert np.abs(got - expected).max() < 3.0  # bicubic keeps the mean up to clipped overshoot
        assert np.abs(got - expected).mean() < 1.5
    full = load_digits(resolution=32, split="all").images
    assert full.max() == 255 and full.min() == 0


def test_digits_cached_and_deterministic():
    a, b = load_digits(split="test"), load_digits(split="test")
    assert a is not b and a.images is b.images  # cached tensors, fresh wrapper
    assert not torch.equal(load_digits(resolution=16, split="test").images[:1, :, :16, :16], a.images[:1, :, :16, :16])


@pytest.mark.parametrize("kwargs", [{"resolution": 0}, {"resolution": 2.5}, {"channels": 2}, {"split": "val"}])
def test_digits_bad_arguments(kwargs):
    with raises_one_line(ConfigError, match="data\\."):
        load_digits(**kwargs)


# --------------------------------------------------------------------------------------------------
# MNIST IDX
# --------------------------------------------------------------------------------------------------


def write_idx(file, magic, array, gz=False):
    raw = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in array.shape) + array.astype(np.uint8).tobytes()
    if gz:
        raw = gzip.compress(raw)
        file = str(file) + ".gz"
    with open(file, "wb") as f:
        f.write(raw)
    return file


def make_mnist(folder, gz=False, n_train=5, n_test=3):
    folder.mkdir(exist_ok=True)
    train = np.stack([np.full((28, 28), 10 * k, np.uint8) for k in range(n_train)])
    test = np.random.default_rng(0).integers(0, 256, (n_test, 28, 28), dtype=np.uint8)
    train_labels = np.array([3, 1, 4, 1, 5][:n_train], np.uint8)
    test_labels = np.array([9, 2, 6][:n_test], np.uint8)
    write_idx(folder / "train-images-idx3-ubyte", 0x803, train, gz)
    write_idx(folder / "train-labels-idx1-ubyte", 0x801, train_labels, gz)
    write_idx(folder / "t10k-images-idx3-ubyte", 0x803, test, gz)
    write_idx(folder / "t10k-labels-idx1-ubyte", 0x801, test_labels, gz)
    return train, train_labels, test, test_labels


@pytest.mark.parametrize("gz", [False, True])
def test_mnist_exact_at_28(tmp_path, gz):
    train, train_labels, test, test_labels = make_mnist(tmp_path / "m", gz)
    data = load_mnist(str(tmp_path / "m"), resolution=28)
    assert data.images.shape == (5, 1, 28, 28) and data.images.dtype == torch.uint8
    assert np.array_equal(data.images[:, 0].numpy(), train)
    assert data.labels.tolist() == train_labels.tolist() and data.labels.dtype == torch.int64
    assert data.class_names == [str(i) for i in range(10)]
    t = load_mnist(str(tmp_path / "m"), resolution=28, split="test")
    assert np.array_equal(t.images[:, 0].numpy(), test) and t.labels.tolist() == [9, 2, 6]
    both = load_mnist(str(tmp_path / "m"), resolution=28, split="all")
    assert len(both) == 8 and both.labels.tolist() == [3, 1, 4, 1, 5, 9, 2, 6]


def test_mnist_resized_constant_images_stay_constant(tmp_path):
    make_mnist(tmp_path / "m")
    data = load_mnist(str(tmp_path / "m"), resolution=32, channels=3)
    assert data.images.shape == (5, 3, 32, 32)
    for k in range(5):
        assert torch.all(data.images[k] == 10 * k)


def test_mnist_truncated_and_oversized(tmp_path):
    make_mnist(tmp_path / "m")
    file = tmp_path / "m" / "train-images-idx3-ubyte"
    raw = file.read_bytes()
    file.write_bytes(raw[:-10])
    with raises_one_line(DataError, match="train-images-idx3-ubyte") as info:
        load_mnist(str(tmp_path / "m"))
    assert str(16 + 5 * 28 * 28) in str(info.value) and str(16 + 5 * 28 * 28 - 10) in str(info.value)
    file.write_bytes(raw + b"\0")
    with raises_one_line(DataError, match="train-images-idx3-ubyte"):
        load_mnist(str(tmp_path / "m"))
    file.write_bytes(raw[:10])
    with raises_one_line(DataError, match="train-images-idx3-ubyte"):
        load_mnist(str(tmp_path / "m"))


def test_mnist_truncated_gzip(tmp_path):
    make_mnist(tmp_path / "m", gz=True)
    file = tmp_path / "m" / "train-images-idx3-ubyte.gz"
    file.write_bytes(file.read_bytes()[:30])
    with raises_one_line(DataError, match="train-images-idx3-ubyte.gz"):
        load_mnist(str(tmp_path / "m"))


def test_mnist_wrong_magic(tmp_path):
    make_mnist(tmp_path / "m")
    # a label file where the image file should be
    write_idx(tmp_path / "m" / "train-images-idx3-ubyte", 0x801, np.zeros(5, np.uint8))
    with raises_one_line(DataError, match="train-images-idx3-ubyte.*magic"):
        load_mnist(str(tmp_path / "m"))


def test_mnist_label_count_mismatch(tmp_path):
    make_mnist(tmp_path / "m")
    write_idx(tmp_path / "m" / "train-labels-idx1-ubyte", 0x801, np.zeros(4, np.uint8))
    with raises_one_line(DataError, match="4 labels.*5 images"):
        load_mnist(str(tmp_path / "m"))


def test_mnist_missing_files(tmp_path):
    with raises_one_line(DataError, match="not a directory"):
        load_mnist(str(tmp_path / "nope"))
    (tmp_path / "empty").mkdir()
    with raises_one_line(DataError, match="train-images-idx3-ubyte"):
        load_mnist(str(tmp_path / "empty"))


# --------------------------------------------------------------------------------------------------
# CIFAR
# --------------------------------------------------------------------------------------------------

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def dump(file, obj, protocol):
    with open(file, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def make_cifar10(folder, protocol=2, per_batch=4, bytes_keys=True, seed=0):
    folder.mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    key = (lambda k: k.encode()) if bytes_keys else (lambda k: k)
    batches = []
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, per_batch).tolist()
        dump(folder / name, {key("batch_label"): key(name), key("data"): data, key("labels"): labels,
                             key("filenames"): [key(f"img{i}.png") for i in range(per_batch)]}, protocol)
        batches.append((data, labels))
    dump(folder / "batches.meta", {key("label_names"): [key(n) for n in CIFAR10_NAMES],
                                   key("num_cases_per_batch"): per_batch, key("num_vis"): 3072}, protocol)
    return batches


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar10_exact_pixels(tmp_path, protocol):
    batches = make_cifar10(tmp_path / "c", protocol)
    train = load_cifar(str(tmp_path / "c"))
    expected = np.concatenate([d for d, _ in batches[:5]]).reshape(-1, 3, 32, 32)
    assert train.images.shape == (20, 3, 32, 32) and train.images.dtype == torch.uint8
    assert np.array_equal(train.images.numpy(), expected)
    assert train.labels.tolist() == sum((l for _, l in batches[:5]), [])
    assert train.class_names == CIFAR10_NAMES
    test = load_cifar(str(tmp_path / "c"), split="test")
    assert np.array_equal(test.images.numpy(), batches[5][0].reshape(-1, 3, 32, 32))
    assert test.labels.tolist() == batches[5][1]
    assert len(load_cifar(str(tmp_path / "c"), split="all")) == 24


def test_cifar10_str_keys_and_parent_folder(tmp_path):
    batches = make_cifar10(tmp_path / "cifar-10-batches-py", protocol=4, bytes_keys=False)
    data = load_cifar(str(tmp_path), split="test")  # the folder that holds cifar-10-batches-py
    assert np.array_equal(data.images.numpy(), batches[5][0].reshape(-1, 3, 32, 32))


def python2_style_pickle(data: np.ndarray, labels: list[int]) -> bytes:
    """What Python 2's cPickle (protocol 2) wrote for CIFAR: str keys and raw array bytes as BINSTRING."""

    def short_binstring(s: bytes) -> bytes:
        return b"U" + bytes([len(s)]) + s

    out = b"\x80\x02}q\x00(" + short_binstring(b"data")
    out += b"cnumpy.core.multiarray\n_reconstruct\nq\x01cnumpy\nndarray\nq\x02K\x00\x85" + short_binstring(b"b") + b"\x87R"
    out += b"(K\x01" + b"M" + struct.pack("<H", data.shape[0]) + b"M" + struct.pack("<H", data.shape[1]) + b"\x86"
    out += b"cnumpy\ndtype\nq\x03" + short_binstring(b"u1") + b"K\x00K\x01\x87R(K\x03" + short_binstring(b"|")
    out += b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89T" + struct.pack("<i", data.nbytes) + data.tobytes() + b"tb"
    out += short_binstring(b"labels") + b"](" + b"".join(b"K" + bytes([v]) for v in labels) + b"eu."
    return out


def test_cifar10_python2_pickles(tmp_path):
    batches = make_cifar10(tmp_path / "c", protocol=2)
    data, labels = batches[5]
    (tmp_path / "c" / "test_batch").write_bytes(python2_style_pickle(data, labels))
    loaded = load_cifar(str(tmp_path / "c"), split="test")
    assert np.array_equal(loaded.images.numpy(), data.reshape(-1, 3, 32, 32))
    assert loaded.labels.tolist() == labels


def test_cifar100_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    rng = np.random.default_rng(1)
    fine_names = [f"class{i}" for i in range(100)]
    parts = {}
    for name, n in (("train", 6), ("test", 3)):
        data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
        fine = rng.integers(0, 100, n).tolist()
        dump(folder / name, {b"data": data, b"fine_labels": fine, b"coarse_labels": [f // 5 for f in fine]}, 2)
        parts[name] = (data, fine)
    dump(folder / "meta", {b"fine_label_names": [n.encode() for n in fine_names],
                           b"coarse_label_names": [b"c%d" % i for i in range(20)]}, 2)
    train = load_cifar(str(folder))
    assert np.array_equal(train.images.numpy(), parts["train"][0].reshape(-1, 3, 32, 32))
    assert train.labels.tolist() == parts["train"][1]
    assert train.class_names == fine_names and train.num_classes == 100
    assert load_cifar(str(tmp_path), split="test").labels.tolist() == parts["test"][1]


def test_cifar_grey_is_itu_luma_and_resize(tmp_path):
    batches = make_cifar10(tmp_path / "c", protocol=4)
    rgb = batches[5][0].reshape(-1, 3, 32, 32).astype(np.float64)
    grey = load_cifar(str(tmp_path / "c"), channels=1, split="test")
    assert grey.images.shape == (4, 1, 32, 32)
    expected = rgb[:, 0] * 299 / 1000 + rgb[:, 1] * 587 / 1000 + rgb[:, 2] * 114 / 1000
    assert np.abs(grey.images[:, 0].numpy() - expected).max() <= 0.5 + 1e-9
    small = load_cifar(str(tmp_path / "c"), resolution=16, split="test")
    assert small.images.shape == (4, 3, 16, 16)
    # a constant image stays constant through the resize
    const = np.zeros((4, 3072), np.uint8)
    const[1] = 123
    dump(tmp_path / "c" / "test_batch", {b"data": const, b"labels": [0, 1, 2, 3]}, 2)
    assert torch.all(load_cifar(str(tmp_path / "c"), resolution=48, split="test").images[1] == 123)


class _Evil:
    def __init__(self, sentinel):
        self.sentinel = sentinel

    def __reduce__(self):
        return (os.system, (f"touch {self.sentinel}",))


class _Custom:
    pass


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_cifar_malicious_pickle_is_not_executed(tmp_path, protocol):
    make_cifar10(tmp_path / "c", protocol=2)
    sentinel = tmp_path / "SENTINEL"
    dump(tmp_path / "c" / "data_batch_1", {b"data": _Evil(sentinel), b"labels": [0]}, protocol)
    with raises_one_line(DataError, match="data_batch_1: not a CIFAR batch .*GLOBAL .*system.*never unpickles"):
        load_cifar(str(tmp_path / "c"))
    assert not sentinel.exists()
    dump(tmp_path / "c" / "batches.meta", _Evil(sentinel), protocol)
    with raises_one_line(DataError, match="batches.meta"):
        load_cifar(str(tmp_path / "c"), split="test")
    assert not sentinel.exists()


def test_cifar_other_objects_rejected(tmp_path):
    make_cifar10(tmp_path / "c", protocol=2)
    dump(tmp_path / "c" / "test_batch", {b"data": _Custom(), b"labels": [0]}, 4)
    with raises_one_line(DataError, match="test_batch.*GLOBAL .*_Custom"):
        load_cifar(str(tmp_path / "c"), split="test")
    dump(tmp_path / "c" / "test_batch", {b"data": np.array([1, "x"], dtype=object), b"labels": [0]}, 2)
    with raises_one_line(DataError, match="test_batch: not a CIFAR batch"):
        load_cifar(str(tmp_path / "c"), split="test")
    (tmp_path / "c" / "test_batch").write_bytes(b"\x80\x02}q\x00(U\x04data")  # cut short
    with raises_one_line(DataError, match="test_batch"):
        load_cifar(str(tmp_path / "c"), split="test")


def test_cifar_bad_content(tmp_path):
    make_cifar10(tmp_path / "c", protocol=2)
    test_batch = tmp_path / "c" / "test_batch"
    dump(test_batch, {b"data": np.zeros((4, 3000), np.uint8), b"labels": [0] * 4}, 2)
    with raises_one_line(DataError, match="test_batch.*N x 3072"):
        load_cifar(str(tmp_path / "c"), split="test")
    dump(test_batch, {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0] * 3}, 2)
    with raises_one_line(DataError, match="test_batch.*4 integers"):
        load_cifar(str(tmp_path / "c"), split="test")
    dump(test_batch, {b"data": np.zeros((4, 3072), np.uint8), b"labels": [0, 1, 2, 10]}, 2)
    with raises_one_line(DataError, match="test_batch.*0..9"):
        load_cifar(str(tmp_path / "c"), split="test")
    dump(test_batch, [1, 2, 3], 2)
    with raises_one_line(DataError, match="test_batch.*expected a dict"):
        load_cifar(str(tmp_path / "c"), split="test")
    os.remove(tmp_path / "c" / "data_batch_3")
    with raises_one_line(DataError, match="data_batch_3: missing"):
        load_cifar(str(tmp_path / "c"))
    (tmp_path / "other").mkdir()
    with raises_one_line(DataError, match="not a CIFAR folder"):
        load_cifar(str(tmp_path / "other"))


# --------------------------------------------------------------------------------------------------
# image folders
# --------------------------------------------------------------------------------------------------

LUMA = lambda r, g, b: r * 299 / 1000 + g * 587 / 1000 + b * 114 / 1000  # noqa: E731


def save(img: Image.Image, file, fmt=None):
    file.parent.mkdir(parents=True, exist_ok=True)
    img.save(file, fmt)
    return file


def png_bytes(size=(8, 8), colour=(1, 2, 3)):
    import io

    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "PNG")
    return buf.getvalue()


# (mode, file name, image, expected RGB value after loading); all solid colours
def solid_cases():
    palette = Image.new("P", (12, 9), 0)
    palette.putpalette([10, 20, 30] + [0, 0, 0] * 255)
    transparent_p = Image.new("P", (12, 9), 1)
    transparent_p.putpalette([10, 20, 30, 200, 200, 200] + [0, 0, 0] * 254)
    transparent_p.info["transparency"] = 1
    cases = [
        ("rgb.png", Image.new("RGB", (12, 9), (200, 100, 50)), (200, 100, 50)),
        ("l.png", Image.new("L", (12, 9), 77), (77, 77, 77)),
        ("la_opaque.png", Image.new("LA", (12, 9), (77, 255)), (77, 77, 77)),
        ("la_clear.png", Image.new("LA", (12, 9), (200, 0)), (0, 0, 0)),
        ("rgba_opaque.png", Image.new("RGBA", (12, 9), (200, 100, 50, 255)), (200, 100, 50)),
        ("rgba_half.png", Image.new("RGBA", (12, 9), (200, 100, 50, 128)), (100, 50, 25)),
        ("p.gif", palette, (10, 20, 30)),
        ("p_clear.png", transparent_p, (0, 0, 0)),
        ("cmyk_white.jpg", Image.new("CMYK", (12, 9), (0, 0, 0, 0)), (255, 255, 255)),
        ("i16.png", Image.fromarray(np.full((9, 12), 200 * 257, np.uint16)), (200, 200, 200)),
        ("i32.tif", Image.new("I", (12, 9), 200 * 257), (200, 200, 200)),
        ("f.tif", Image.new("F", (12, 9), 0.5), (128, 128, 128)),
        ("one.bmp", Image.new("1", (12, 9), 1), (255, 255, 255)),
        ("rgb.bmp", Image.new("RGB", (12, 9), (200, 100, 50)), (200, 100, 50)),
        ("grey.pgm", Image.new("L", (12, 9), 33), (33, 33, 33)),
        ("rgb.ppm", Image.new("RGB", (12, 9), (5, 6, 7)), (5, 6, 7)),
        ("upper.PNG", Image.new("RGB", (12, 9), (9, 8, 7)), (9, 8, 7)),
    ]
    if features.check("webp"):
        cases.append(("rgb.webp", Image.new("RGB", (12, 9), (200, 100, 50)), (200, 100, 50)))
    return cases


def test_folder_modes_and_solid_colours(tmp_path):
    cases = solid_cases()
    for name, img, _ in cases:
        save(img, tmp_path / "flat" / name)
    with Image.open(tmp_path / "flat" / "i16.png") as im:
        assert im.mode == "I;16"
    rgb, skipped = load_folder(str(tmp_path / "flat"), resolution=16, channels=3)
    grey, _ = load_folder(str(tmp_path / "flat"), resolution=16, channels=1)
    assert skipped == [] and rgb.labels is None and rgb.class_names == [] and rgb.num_classes == 0
    assert rgb.images.shape == (len(cases), 3, 16, 16) and grey.images.shape == (len(cases), 1, 16, 16)
    order = sorted(str(tmp_path / "flat" / name) for name, _, _ in cases)
    for name, _, expected in cases:
        i = order.index(str(tmp_path / "flat" / name))
        tol = 3 if name.endswith((".jpg", ".webp")) else 1
        got = rgb.images[i].to(torch.int32)
        for c in range(3):
            assert (got[c] - expected[c]).abs().max() <= tol, (name, c, got[c].unique())
        luma = LUMA(*expected)
        assert (grey.images[i, 0].to(torch.float32) - luma).abs().max() <= tol + 0.5, (name, grey.images[i, 0].unique())


def test_folder_classes_sorted_recursive_and_labels(tmp_path):
    save(Image.new("RGB", (10, 10), (255, 0, 0)), tmp_path / "zebra" / "a.png")
    save(Image.new("RGB", (10, 10), (255, 0, 0)), tmp_path / "zebra" / "deep" / "er" / "b.jpg")
    save(Image.new("RGB", (10, 10), (0, 0, 255)), tmp_path / "apple" / "c.png")
    save(Image.new("RGB", (10, 10), (0, 0, 255)), tmp_path / "apple" / "d.bmp")
    save(Image.new("RGB", (10, 10), (0, 0, 255)), tmp_path / "apple" / "e.png")
    (tmp_path / "empty_class").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("not an image")
    save(Image.new("RGB", (10, 10)), tmp_path / "stray.png")
    with pytest.warns(UserWarning, match="ignored"):
        data, skipped = load_folder(str(tmp_path), resolution=8)
    assert data.class_names == ["apple", "zebra"] and data.num_classes == 2
    assert data.labels.tolist() == [0, 0, 0, 1, 1] and data.labels.dtype == torch.int64
    assert skipped == []
    # class 0 is blue, class 1 red (JPEG within a few levels)
    assert torch.all(data.images[:3, 2] == 255) and torch.all(data.images[:3, 0] == 0)
    assert data.images[3:, 0].min() >= 250 and data.images[3:, 2].max() <= 5


def test_folder_centre_crop_and_upscale(tmp_path):
    stripes = np.zeros((10, 30, 3), np.uint8)
    stripes[:, :10] = (255, 0, 0)
    stripes[:, 10:20] = (0, 255, 0)
    stripes[:, 20:] = (0, 0, 255)
    save(Image.fromarray(stripes), tmp_path / "wide" / "s.png")
    tall = np.ascontiguousarray(stripes.transpose(1, 0, 2))
    save(Image.fromarray(tall), tmp_path / "wide" / "t.png")
    data, _ = load_folder(str(tmp_path / "wide"), resolution=10)
    for i in range(2):  # exactly the middle square: pure green
        assert torch.equal(data.images[i], torch.tensor([0, 255, 0], dtype=torch.uint8)[:, None, None].expand(3, 10, 10))
    small, _ = load_folder(str(tmp_path / "wide"), resolution=40)  # upscaled
    assert small.images.shape == (2, 3, 40, 40)
    assert torch.all(small.images[:, 1, 5:35, 5:35] >= 250) and torch.all(small.images[:, 0, 5:35, 5:35] <= 5)
    save(Image.new("RGB", (4, 4), (200, 100, 50)), tmp_path / "tiny" / "x.png")
    up, _ = load_folder(str(tmp_path / "tiny"), resolution=32)
    assert up.images.shape == (1, 3, 32, 32)
    assert torch.equal(up.images[0, :, 0, 0], torch.tensor([200, 100, 50], dtype=torch.uint8))
    assert all(up.images[0, c].unique().tolist() == [v] for c, v in enumerate((200, 100, 50)))


def bad_files():
    truncated = png_bytes((64, 64))
    return {"zero.png": b"", "truncated.png": truncated[: len(truncated) // 2], "text.png": b"hello, not an image\n"}


@pytest.mark.parametrize("bad_name", sorted(bad_files()))
def test_folder_bad_file_is_named(tmp_path, bad_name):
    folder = tmp_path / "imgs"
    save(Image.new("RGB", (8, 8), (1, 2, 3)), folder / "good.png")
    (folder / bad_name).write_bytes(bad_files()[bad_name])
    with raises_one_line(DataError, match=f"{bad_name}: cannot read as an image .*skip_bad_files=true"):
        load_folder(str(folder))


def test_folder_skip_bad_files(tmp_path):
    folder = tmp_path / "imgs"
    for name, content in bad_files().items():
        (folder / "cls").mkdir(parents=True, exist_ok=True)
        (folder / "cls" / name).write_bytes(content)
    save(Image.new("RGB", (8, 8), (1, 2, 3)), folder / "cls" / "good1.png")
    save(Image.new("RGB", (8, 8), (4, 5, 6)), folder / "other" / "good2.png")
    with pytest.warns(UserWarning, match="skipped 3 unreadable"):
        data, skipped = load_folder(str(folder), resolution=8, skip_bad_files=True)
    assert len(data) == 2 and data.labels.tolist() == [0, 1]
    assert data.images[0, :, 0, 0].tolist() == [1, 2, 3] and data.images[1, :, 0, 0].tolist() == [4, 5, 6]
    assert sorted(os.path.basename(f) for f, _ in skipped) == sorted(bad_files())
    assert all(reason and "\n" not in reason for _, reason in skipped)
    only_bad = tmp_path / "only_bad"
    only_bad.mkdir()
    (only_bad / "zero.png").write_bytes(b"")
    with raises_one_line(DataError, match="none of the 1 files"):
        load_folder(str(only_bad), skip_bad_files=True)


def test_folder_missing_empty_and_not_a_folder(tmp_path):
    with raises_one_line(DataError, match="no such folder.*put images"):
        load_folder(str(tmp_path / "missing"))
    (tmp_path / "empty").mkdir()
    with raises_one_line(DataError, match="no image files.*<class>"):
        load_folder(str(tmp_path / "empty"))
    (tmp_path / "textonly").mkdir()
    (tmp_path / "textonly" / "a.txt").write_text("x")
    with raises_one_line(DataError, match="no image files"):
        load_folder(str(tmp_path / "textonly"))
    (tmp_path / "file.png").write_bytes(png_bytes())
    with raises_one_line(DataError, match="not a folder"):
        load_folder(str(tmp_path / "file.png"))
    with raises_one_line(ConfigError, match="data.channels"):
        load_folder(str(tmp_path / "empty"), channels=4)


def test_folder_stream_matches_memory(tmp_path):
    rng = np.random.default_rng(3)
    for cls in ("a", "b"):
        for k in range(3):
            save(Image.fromarray(rng.integers(0, 256, (20, 24, 3), dtype=np.uint8)), tmp_path / "d" / cls / f"{k}.png")
    memory, _ = load_folder(str(tmp_path / "d"), resolution=12)
    stream, skipped = load_folder(str(tmp_path / "d"), resolution=12, max_memory_mb=1e-4)
    assert isinstance(stream, FolderStream) and skipped == []
    assert len(stream) == 6 and stream.shape == (3, 12, 12) and stream.num_classes == 2
    assert stream.class_names == ["a", "b"] and stream.labels.tolist() == [0, 0, 0, 1, 1, 1]
    for i in range(6):
        image, label = stream[i]
        assert image.dtype == torch.uint8 and image.shape == (3, 12, 12)
        assert torch.equal(image, memory.images[i]) and label == memory.labels[i].item()
    assert torch.equal(stream[-1][0], memory.images[5])
    with pytest.raises(IndexError):
        stream[6]
    batch = next(iter(torch.utils.data.DataLoader(stream, batch_size=4)))
    assert batch[0].shape == (4, 3, 12, 12) and batch[1].tolist() == [0, 0, 0, 1]


def test_folder_stream_bad_files(tmp_path):
    folder = tmp_path / "flat"
    save(Image.new("L", (8, 8), 10), folder / "a.png")
    (folder / "b.png").write_bytes(b"")
    save(Image.new("L", (8, 8), 30), folder / "c.png")
    strict, _ = load_folder(str(folder), resolution=8, channels=1, max_memory_mb=1e-5)
    assert isinstance(strict, FolderStream) and len(strict) == 3 and strict.labels is None
    assert strict[0][1] == -1 and strict[0][0].unique().tolist() == [10]
    with raises_one_line(DataError, match="b.png: cannot read as an image"):
        strict[1]
    lenient, _ = load_folder(str(folder), resolution=8, channels=1, skip_bad_files=True, max_memory_mb=1e-5)
    image, label = lenient[1]  # replaced by the next index, deterministically
    assert image.unique().tolist() == [30] and label == -1
    assert lenient[1][0].unique().tolist() == [30]
    assert [os.path.basename(f) for f, _ in lenient.skipped] == ["b.png"]


def test_folder_deterministic(tmp_path):
    rng = np.random.default_rng(5)
    for k in range(12):
        save(Image.fromarray(rng.integers(0, 256, (17, 23), dtype=np.uint8)), tmp_path / "g" / f"{k:02d}.png")
    first, _ = load_folder(str(tmp_path / "g"), resolution=9, channels=1)
    second, _ = load_folder(str(tmp_path / "g"), resolution=9, channels=1)
    assert torch.equal(first.images, second.images)
    with Image.open(tmp_path / "g" / "03.png") as im:
        reference = im.crop((3, 0, 20, 17)).resize((9, 9), Image.Resampling.LANCZOS)
    assert np.array_equal(first.images[3, 0].numpy(), np.asarray(reference))
