"""Tests for gankit.data.layouts: the CycleGAN, pix2pix (aligned and parallel), StarGAN domain and CelebA layouts."""
from __future__ import annotations

import os
import random

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data.layouts import (LAYOUTS, detect_layout, read_aligned, read_celeba, read_domains, read_parallel,
                                 read_unaligned)
from gankit.errors import ConfigError, DataError

RED, BLUE, GREEN = (200, 10, 10), (10, 20, 220), (30, 180, 40)


def solid(path, colour, size=(12, 12)):
    """A solid RGB image file of ``size`` (width, height)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", size, colour).save(path)


def pair(path, left, right, w=12, h=12):
    """An A|B image 2w×h: left half solid ``left``, right half solid ``right``."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arr = np.zeros((h, 2 * w, 3), np.uint8)
    arr[:, :w], arr[:, w:] = left, right
    Image.fromarray(arr).save(path)


def colour_of(t):
    """The solid colour of uint8 C×R×R (asserts the image is solid)."""
    flat = t.reshape(t.shape[0], -1)
    assert (flat == flat[:, :1]).all()
    return tuple(flat[:, 0].tolist())


def luma(c):
    return (c[0] * 299 + c[1] * 587 + c[2] * 114 + 500) // 1000


# ---------------------------------------------------------------- unaligned


def make_cyclegan(tmp_path):
    for i in range(3):
        solid(str(tmp_path / "trainA" / f"{i:02d}.png"), RED)
    for i in range(5):
        solid(str(tmp_path / "trainB" / f"b{i}.jpg"), BLUE, (16, 10))
    solid(str(tmp_path / "testA" / "t.png"), RED)
    solid(str(tmp_path / "testB" / "t.png"), BLUE)
    solid(str(tmp_path / "trainA" / ".hidden.png"), GREEN)
    (tmp_path / "trainA" / "notes.txt").write_text("not an image")
    return tmp_path


@pytest.fixture
def cyclegan(tmp_path):
    return make_cyclegan(tmp_path)


def test_unaligned_reads_both_domains_unpaired(cyclegan):
    a, b, na, nb = read_unaligned(str(cyclegan), "train", 3, 8)
    assert a.shape == (3, 3, 8, 8) and b.shape == (5, 3, 8, 8)
    assert a.dtype == torch.uint8 and b.dtype == torch.uint8
    assert na == ["00.png", "01.png", "02.png"] and nb == [f"b{i}.jpg" for i in range(5)]
    assert colour_of(a[0]) == RED
    a, b, na, nb = read_unaligned(str(cyclegan), "test", 1, 6)
    assert a.shape == (1, 1, 6, 6) and b.shape == (1, 1, 6, 6)
    assert colour_of(a[0]) == (luma(RED),)


def test_unaligned_missing_folder_names_the_layout(cyclegan, one_line):
    import shutil

    shutil.rmtree(cyclegan / "trainB")
    with one_line(ConfigError, match=r"has no trainB/ folder; the CycleGAN layout is trainA/ trainB/ testA/ testB/"):
        read_unaligned(str(cyclegan), "train", 3, 8)


def test_empty_split_folder_is_a_data_error_naming_it(tmp_path, one_line):
    for d in ("trainA", "trainB"):
        os.makedirs(tmp_path / d)
    solid(str(tmp_path / "trainA" / "x.png"), RED)
    (tmp_path / "trainB" / "readme.md").write_text("x")
    with one_line(DataError, match="trainB: no image files"):
        read_unaligned(str(tmp_path), "train", 3, 8)


def test_bad_arguments_are_config_errors(cyclegan, tmp_path, one_line):
    with one_line(ConfigError, match="split"):
        read_unaligned(str(cyclegan), "val", 3, 8)
    with one_line(ConfigError, match="channels"):
        read_unaligned(str(cyclegan), "train", 2, 8)
    with one_line(ConfigError, match="resolution"):
        read_unaligned(str(cyclegan), "train", 3, 0)
    with one_line(ConfigError, match="not a folder"):
        read_unaligned(str(tmp_path / "nowhere"), "train", 3, 8)


def test_unreadable_image_is_a_one_line_data_error(cyclegan, one_line):
    (cyclegan / "trainA" / "03.png").write_bytes(b"not a png")
    with one_line(DataError, match="03.png: cannot read"):
        read_unaligned(str(cyclegan), "train", 3, 8)


def test_resize_is_pillow_bicubic(tmp_path):
    rng = np.random.default_rng(0)
    arr = rng.integers(0, 256, (12, 20, 3), dtype=np.uint8)
    for d in ("trainA", "trainB"):
        os.makedirs(tmp_path / d)
        Image.fromarray(arr).save(tmp_path / d / "x.png")
    a, _, _, _ = read_unaligned(str(tmp_path), "train", 3, 7)
    want = np.asarray(Image.fromarray(arr).resize((7, 7), Image.Resampling.BICUBIC)).transpose(2, 0, 1)
    np.testing.assert_array_equal(a[0].numpy(), want)
    g, _, _, _ = read_unaligned(str(tmp_path), "train", 1, 7)
    want = np.asarray(Image.fromarray(arr).convert("L").resize((7, 7), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(g[0, 0].numpy(), want)


# ---------------------------------------------------------------- aligned


def test_aligned_left_half_is_a_right_half_is_b(tmp_path):
    pair(str(tmp_path / "train" / "1.png"), RED, BLUE)
    pair(str(tmp_path / "train" / "2.png"), GREEN, RED)
    a, b, names = read_aligned(str(tmp_path), "train", 3, 8)
    assert a.shape == b.shape == (2, 3, 8, 8) and a.dtype == torch.uint8
    assert names == ["1.png", "2.png"]
    assert [colour_of(t) for t in a] == [RED, GREEN] and [colour_of(t) for t in b] == [BLUE, RED]
    a2, b2, _ = read_aligned(str(tmp_path), "train", 3, 8, direction="BtoA")
    assert torch.equal(a2, b) and torch.equal(b2, a)
    g, _, _ = read_aligned(str(tmp_path), "train", 1, 5)
    assert g.shape == (2, 1, 5, 5) and colour_of(g[0]) == (luma(RED),)


def test_aligned_halves_are_split_at_half_the_width(tmp_path):
    # a 24×12 gradient: A must be exactly columns 0..11 resized, B columns 12..23
    arr = np.tile(np.arange(24, dtype=np.uint8)[None, :, None] * 10, (12, 1, 3))
    os.makedirs(tmp_path / "train")
    Image.fromarray(arr).save(tmp_path / "train" / "g.png")
    a, b, _ = read_aligned(str(tmp_path), "train", 3, 12)
    np.testing.assert_array_equal(a[0].numpy(), arr[:, :12].transpose(2, 0, 1))
    np.testing.assert_array_equal(b[0].numpy(), arr[:, 12:].transpose(2, 0, 1))


def test_aligned_test_falls_back_to_val(tmp_path, one_line):
    pair(str(tmp_path / "train" / "1.png"), RED, BLUE)
    with one_line(ConfigError, match=r"no test/ \(or val/\) folder"):
        read_aligned(str(tmp_path), "test", 3, 8)
    pair(str(tmp_path / "val" / "v.png"), GREEN, RED)
    a, b, names = read_aligned(str(tmp_path), "test", 3, 8)
    assert names == ["v.png"] and colour_of(a[0]) == GREEN and colour_of(b[0]) == RED
    pair(str(tmp_path / "test" / "t.png"), BLUE, GREEN)
    assert read_aligned(str(tmp_path), "test", 3, 8)[2] == ["t.png"]


def test_aligned_odd_width_is_a_data_error(tmp_path, one_line):
    pair(str(tmp_path / "train" / "1.png"), RED, BLUE)
    solid(str(tmp_path / "train" / "odd.png"), RED, (301, 10))
    with one_line(DataError, match=r"odd.png: 301 px wide; an aligned pair is A\|B side by side, an even width"):
        read_aligned(str(tmp_path), "train", 3, 8)


def test_aligned_bad_direction(tmp_path, one_line):
    pair(str(tmp_path / "train" / "1.png"), RED, BLUE)
    with one_line(ConfigError, match="direction"):
        read_aligned(str(tmp_path), "train", 3, 8, direction="AB")


# ---------------------------------------------------------------- parallel


def parallel_tree(root, names_a, names_b, sub="train"):
    for n in names_a:
        solid(str(root / "A" / sub / n), RED)
    for n in names_b:
        solid(str(root / "B" / sub / n), BLUE)


def test_parallel_pairs_by_file_name(tmp_path):
    parallel_tree(tmp_path, ["2.png", "1.png", "3.png"], ["3.png", "1.png", "2.png"])
    solid(str(tmp_path / "A" / "train" / "2.png"), GREEN)
    solid(str(tmp_path / "B" / "train" / "2.png"), GREEN)
    a, b, names = read_parallel(str(tmp_path), "train", 3, 8)
    assert names == ["1.png", "2.png", "3.png"] and a.shape == b.shape == (3, 3, 8, 8) and a.dtype == torch.uint8
    assert [colour_of(t) for t in a] == [RED, GREEN, RED] and [colour_of(t) for t in b] == [BLUE, GREEN, BLUE]


def test_parallel_unmatched_names_are_a_data_error(tmp_path, one_line):
    parallel_tree(tmp_path, ["0001.png", "0007.png", "0008.png", "0009.png"], ["0001.png"])
    with one_line(DataError, match=r"data\.path: 3 images in .*A.train have no match in .*B.train \(first: 0007\.png\); "
                                   r"pairs are matched by file name"):
        read_parallel(str(tmp_path), "train", 3, 8)


def test_parallel_unmatched_in_b_and_exact_names(tmp_path, one_line):
    parallel_tree(tmp_path, ["a.png"], ["a.png", "a.jpg"])
    with one_line(DataError, match=r"1 image in .*B.train has no match in .*A.train \(first: a\.jpg\)"):
        read_parallel(str(tmp_path), "train", 3, 8)


def test_parallel_val_fallback_and_missing_folders(tmp_path, one_line):
    parallel_tree(tmp_path, ["x.png"], ["x.png"])
    with one_line(ConfigError, match=r"no A/test/ \(or val/\) folder"):
        read_parallel(str(tmp_path), "test", 3, 8)
    parallel_tree(tmp_path, ["v.png"], ["v.png"], sub="val")
    a, b, names = read_parallel(str(tmp_path), "test", 1, 4)
    assert names == ["v.png"] and a.shape == (1, 1, 4, 4) and colour_of(b[0]) == (luma(BLUE),)
    os.makedirs(tmp_path / "only" / "A" / "train")
    with one_line(ConfigError, match="has no B/ folder"):
        read_parallel(str(tmp_path / "only"), "train", 3, 8)


# ---------------------------------------------------------------- domains


def make_rafd(tmp_path):
    for split, counts in (("train", (2, 3, 1)), ("test", (1, 1, 2))):
        for (domain, colour), n in zip((("angry", RED), ("happy", GREEN), ("sad", BLUE)), counts):
            for i in range(n):
                solid(str(tmp_path / split / domain / f"{i}.png"), colour, (10, 14))
    return tmp_path


@pytest.fixture
def rafd(tmp_path):
    return make_rafd(tmp_path)


def test_domains_indices_and_names(rafd):
    x, y, names = read_domains(str(rafd), "train", 3, 8)
    assert names == ["angry", "happy", "sad"]
    assert x.shape == (6, 3, 8, 8) and x.dtype == torch.uint8
    assert y.dtype == torch.int64 and y.tolist() == [0, 0, 1, 1, 1, 2]
    assert [colour_of(t) for t in x] == [RED, RED, GREEN, GREEN, GREEN, BLUE]
    x, y, names = read_domains(str(rafd), "test", 1, 8)
    assert x.shape == (4, 1, 8, 8) and y.tolist() == [0, 1, 2, 2] and names == ["angry", "happy", "sad"]


def test_domains_test_must_match_train(rafd, one_line):
    import shutil

    shutil.rmtree(rafd / "test" / "happy")
    with one_line(ConfigError, match=r"domain 'happy' is in train/ but not in test/ .*every domain needs both"):
        read_domains(str(rafd), "test", 3, 8)
    solid(str(rafd / "test" / "happy" / "0.png"), GREEN)
    solid(str(rafd / "test" / "zzz" / "0.png"), GREEN)
    with one_line(ConfigError, match=r"domain 'zzz' is in test/ but not in train/"):
        read_domains(str(rafd), "test", 3, 8)


def test_domains_need_two(tmp_path, one_line):
    solid(str(tmp_path / "train" / "only" / "0.png"), RED)
    os.makedirs(tmp_path / "train" / ".cache")
    with one_line(ConfigError, match=r"1 domain folders \(only\); at least 2"):
        read_domains(str(tmp_path), "train", 3, 8)


def test_domains_val_fallback(rafd):
    os.rename(rafd / "test", rafd / "val")
    assert read_domains(str(rafd), "test", 3, 8)[0].shape[0] == 4


# ---------------------------------------------------------------- celeba

ATTRS = ["Bald", "Black_Hair", "Blond_Hair", "Male", "Smiling", "Young"]


def celeba_tree(root, n=30, folder="images", size=(20, 24)):
    """``n`` images whose attribute i is 1 when bit i of the image number is set; image k is solid grey level k*8."""
    os.makedirs(root / folder, exist_ok=True)
    lines = [str(n), "  ".join(ATTRS)]
    for k in range(n):
        name = f"{k:06d}.jpg"
        values = ["1" if k >> i & 1 else "-1" for i in range(len(ATTRS))]
        lines.append(name + "  " + "   ".join(values))
        Image.new("RGB", size, (k * 8, k * 8, k * 8)).save(root / folder / name, quality=100)
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    return lines


def test_celeba_attribute_values_and_order(tmp_path):
    celeba_tree(tmp_path)
    x, v, names = read_celeba(str(tmp_path), "train", 3, 8, ["Smiling", "Bald", "Male"], crop=0, test_count=10)
    assert x.shape == (20, 3, 8, 8) and x.dtype == torch.uint8
    assert v.shape == (20, 3) and v.dtype == torch.float32
    for name, row in zip(names, v.tolist()):
        k = int(name[:6])
        assert row == [float(k >> 4 & 1), float(k & 1), float(k >> 3 & 1)]
    for name, img in zip(names, x):  # each image is its own file (grey level k*8, JPEG within 2)
        assert abs(int(img.float().mean().round()) - int(name[:6]) * 8) <= 2


def test_celeba_split_is_stargans_shuffle(tmp_path):
    lines = celeba_tree(tmp_path)
    data = lines[2:]
    random.seed(1234)
    random.shuffle(data)
    expected = [line.split()[0] for line in data]
    _, _, test = read_celeba(str(tmp_path), "test", 3, 8, ["Male"], crop=0, test_count=7)
    _, _, train = read_celeba(str(tmp_path), "train", 3, 8, ["Male"], crop=0, test_count=7)
    assert len(test) == 7 and len(train) == 23
    assert test + train == expected
    assert test != sorted(test)  # really shuffled


def test_local_random_gives_the_module_functions_order():
    a, b = list(range(1000)), list(range(1000))
    random.seed(1234)
    random.shuffle(a)
    random.Random(1234).shuffle(b)
    assert a == b


def test_celeba_centre_crop_then_resize(tmp_path):
    os.makedirs(tmp_path / "img_align_celeba")
    arr = np.random.default_rng(1).integers(0, 256, (22, 18, 3), dtype=np.uint8)
    Image.fromarray(arr).save(tmp_path / "img_align_celeba" / "a.png")
    (tmp_path / "list_attr_celeba.txt").write_text("1\nMale Young\na.png 1 -1\n")
    x, v, names = read_celeba(str(tmp_path), "train", 3, 5, ["Young", "Male"], crop=14, test_count=0)
    assert names == ["a.png"] and v.tolist() == [[0.0, 1.0]]
    top, left = round((22 - 14) / 2), round((18 - 14) / 2)  # torchvision CenterCrop's placement
    want = Image.fromarray(arr[top:top + 14, left:left + 14]).resize((5, 5), Image.Resampling.BICUBIC)
    np.testing.assert_array_equal(x[0].numpy(), np.asarray(want).transpose(2, 0, 1))
    with pytest.raises(DataError, match="smaller than the 30×30 centre crop"):
        read_celeba(str(tmp_path), "train", 3, 5, ["Male"], crop=30, test_count=0)


def test_celeba_absent_images(tmp_path, one_line):
    celeba_tree(tmp_path, n=12)
    _, _, test = read_celeba(str(tmp_path), "test", 3, 8, ["Male"], crop=0, test_count=4)
    for name in test[1:3]:
        os.remove(tmp_path / "images" / name)
    with one_line(DataError, match=rf"images: 2 images named in list_attr_celeba.txt are absent \(first: {test[1]}\)"):
        read_celeba(str(tmp_path), "test", 3, 8, ["Male"], crop=0, test_count=4)
    # the train split names none of them: it reads without error
    assert read_celeba(str(tmp_path), "train", 3, 8, ["Male"], crop=0, test_count=4)[0].shape[0] == 8


def test_celeba_unknown_attribute(tmp_path, one_line):
    celeba_tree(tmp_path, n=4)
    with one_line(ConfigError, match=r"'Blue_Hair' is not an attribute of .*which has 6 \(Bald, Black_Hair, Blond_Hair"):
        read_celeba(str(tmp_path), "train", 3, 8, ["Male", "Blue_Hair"], crop=0, test_count=1)


def test_celeba_malformed_line_and_counts(tmp_path, one_line):
    lines = celeba_tree(tmp_path, n=5)
    with one_line(ConfigError, match="test_count: 6 is more than the 5 images"):
        read_celeba(str(tmp_path), "train", 3, 8, ["Male"], crop=0, test_count=6)
    with one_line(ConfigError, match="leaves no train images"):
        read_celeba(str(tmp_path), "train", 3, 8, ["Male"], crop=0, test_count=5)
    lines[4] = lines[4].rsplit(" ", 1)[0]
    (tmp_path / "list_attr_celeba.txt").write_text("\n".join(lines))
    with one_line(DataError, match="line 5 has 5 values for 6 attributes"):
        read_celeba(str(tmp_path), "train", 3, 8, ["Male"], crop=0, test_count=1)
    lines = celeba_tree(tmp_path, n=5)
    lines[3] = lines[3].replace("-1", "0", 1)
    (tmp_path / "list_attr_celeba.txt").write_text("\n".join(lines))
    with one_line(DataError, match="line 4 has the value '0'; attribute values are 1 or -1"):
        read_celeba(str(tmp_path), "train", 3, 8, ["Male"], crop=0, test_count=1)


def test_celeba_grey_and_default_crop(tmp_path):
    celeba_tree(tmp_path, n=4, size=(178, 218))
    x, _, names = read_celeba(str(tmp_path), "test", 1, 16, ["Male"], test_count=2)
    assert x.shape == (2, 1, 16, 16) and len(names) == 2


def test_celeba_missing_files(tmp_path, one_line):
    with one_line(ConfigError, match="has no list_attr_celeba.txt"):
        read_celeba(str(tmp_path), "train", 3, 8, ["Male"])
    (tmp_path / "list_attr_celeba.txt").write_text("0\nMale\n")
    with one_line(ConfigError, match=r"has no images/ \(or img_align_celeba/\) folder"):
        read_celeba(str(tmp_path), "train", 3, 8, ["Male"])


# ---------------------------------------------------------------- detect_layout


def test_detect_layout_on_each(tmp_path, one_line):
    assert detect_layout(str(make_cyclegan(tmp_path / "cg"))) == "unaligned"
    aligned = tmp_path / "al"
    pair(str(aligned / "train" / "1.png"), RED, BLUE)
    assert detect_layout(str(aligned)) == "aligned"
    par = tmp_path / "par"
    parallel_tree(par, ["x.png"], ["x.png"])
    assert detect_layout(str(par)) == "parallel"
    assert detect_layout(str(make_rafd(tmp_path / "rafd"))) == "domains"
    cel = tmp_path / "cel"
    os.makedirs(cel)
    celeba_tree(cel, n=2)
    assert detect_layout(str(cel)) == "celeba"
    empty = tmp_path / "empty"
    os.makedirs(empty / "train")
    with one_line(ConfigError, match="matches none of the layouts " + ", ".join(LAYOUTS)):
        detect_layout(str(empty))
    with one_line(ConfigError, match="not a folder"):
        detect_layout(str(tmp_path / "nowhere"))
