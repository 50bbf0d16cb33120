"""Tests for gankit.data.masks: centre block, random blocks, DeepFill v2 free-form strokes, make_masks, load_mask."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage

from gankit.data.masks import (block_boxes, center_mask, draw_strokes, free_form, free_form_strokes, load_mask,
                               make_masks, random_blocks)
from gankit.errors import ConfigError, DataError


# ---------------------------------------------------------------- centre


def test_center_mask_is_the_context_encoders_central_64_of_128():
    m = center_mask(128, 128)
    assert m.dtype == np.float32 and m.shape == (128, 128)
    assert m.sum() == 64 * 64
    expected = np.zeros((128, 128), np.float32)
    expected[32:96, 32:96] = 1
    np.testing.assert_array_equal(m, expected)


def test_center_mask_rectangle_rounds_halves_up_and_centres():
    # 0.5·10 = 5 rows, 0.5·7 = 3.5 -> 4 columns; (10-5)//2 = 2 rows above, (7-4)//2 = 1 column to the left
    m = center_mask(10, 7, frac=0.5)
    expected = np.zeros((10, 7), np.float32)
    expected[2:7, 1:5] = 1
    np.testing.assert_array_equal(m, expected)
    assert center_mask(6, 6, frac=1.0).min() == 1.0


@pytest.mark.parametrize("frac", [0.0, -0.5, 1.5])
def test_center_mask_rejects_bad_frac(frac, one_line):
    with one_line(ConfigError, match="frac"):
        center_mask(8, 8, frac=frac)


# ---------------------------------------------------------------- blocks


def test_random_blocks_inside_bounds_and_covered_fraction_in_implied_range():
    h, w = 50, 80
    rng = np.random.default_rng(7)
    counts = set()
    for _ in range(200):
        state = rng.bit_generator.state
        boxes = block_boxes(h, w, rng)
        rng.bit_generator.state = state
        mask = random_blocks(h, w, rng)  # the same draws: the mask is the union of these boxes
        counts.add(len(boxes))
        assert 1 <= len(boxes) <= 4
        union = np.zeros((h, w), np.float32)
        for top, left, bh, bw in boxes:
            assert 0 <= top and top + bh <= h and 0 <= left and left + bw <= w
            assert round(0.1 * h) <= bh <= round(0.4 * h) and round(0.1 * w) <= bw <= round(0.4 * w)
            union[top:top + bh, left:left + bw] = 1
        np.testing.assert_array_equal(mask, union)
        areas = [bh * bw for _, _, bh, bw in boxes]
        frac = mask.mean()
        assert max(areas) / (h * w) <= frac <= sum(areas) / (h * w)
        # the range the defaults imply: one smallest rectangle (0.1²) up to four largest (4·0.4²)
        assert (5 * 8) / (h * w) <= frac <= 4 * (20 * 32) / (h * w)
    assert counts == {1, 2, 3, 4}  # the count's range is inclusive


def test_random_blocks_rejects_bad_ranges(one_line):
    rng = np.random.default_rng(0)
    with one_line(ConfigError, match="frac"):
        random_blocks(16, 16, rng, frac=(0.5, 0.2))
    with one_line(ConfigError, match="n="):
        random_blocks(16, 16, rng, n=(0, 2))


# ---------------------------------------------------------------- free-form


def test_free_form_is_reproducible_and_differs_between_seeds():
    a = free_form(64, 64, np.random.default_rng(3))
    b = free_form(64, 64, np.random.default_rng(3))
    c = free_form(64, 64, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert a.dtype == np.float32 and set(np.unique(a)) <= {0.0, 1.0}


def test_free_form_masks_are_strokes_with_a_sensible_hole_fraction():
    rng = np.random.default_rng(0)
    fractions = []
    for _ in range(200):
        state = rng.bit_generator.state
        strokes = free_form_strokes(64, 64, rng)
        rng.bit_generator.state = state
        mask = free_form(64, 64, rng)
        np.testing.assert_array_equal(mask, draw_strokes(64, 64, strokes))
        assert 1 <= len(strokes) <= 3 and all(5 <= len(s.vertices) <= 12 for s in strokes)  # 4–11 moves
        assert 0 < mask.sum() < mask.size
        # every stroke is one connected piece of brush, so a mask has at most as many pieces as strokes
        _, pieces = ndimage.label(mask, structure=np.ones((3, 3)))
        assert 1 <= pieces <= len(strokes)
        fractions.append(mask.mean())
    # measured: 0.154 (seeds 0–4 give 0.150–0.158); a mask is 1–3 strokes of 3–10 px brush at 64²
    assert 0.12 <= float(np.mean(fractions)) <= 0.19


def test_free_form_brush_widths_scale_with_size():
    for seed in range(20):
        small = free_form_strokes(64, 64, np.random.default_rng(seed))
        large = free_form_strokes(256, 256, np.random.default_rng(seed))
        assert len(small) == len(large)
        for s, big in zip(small, large):
            assert 3.0 <= s.width <= 10.0 and 12.0 <= big.width <= 40.0  # DeepFill's 12–40 px at 256², ×64/256
            assert big.width == pytest.approx(4 * s.width)
            np.testing.assert_allclose(big.vertices, 4 * s.vertices)
    # the whole picture scales: the hole fraction is the same at both sizes, seed by seed
    f64 = [free_form(64, 64, np.random.default_rng(s)).mean() for s in range(30)]
    f256 = [free_form(256, 256, np.random.default_rng(s)).mean() for s in range(30)]
    assert abs(np.mean(f64) - np.mean(f256)) < 0.01
    # and the brush is thicker in pixels: the widest inscribed disc grows with the image
    thick64 = max(ndimage.distance_transform_edt(free_form(64, 64, np.random.default_rng(s))).max() for s in range(10))
    thick256 = max(ndimage.distance_transform_edt(free_form(256, 256, np.random.default_rng(s))).max() for s in range(10))
    assert thick256 > 3 * thick64


# ---------------------------------------------------------------- make_masks


@pytest.mark.parametrize("kind", ["center", "blocks", "free-form"])
def test_make_masks_shapes_dtype_values_and_seed(kind):
    m = make_masks(kind, 5, 32, 48, seed=11)
    assert isinstance(m, torch.Tensor) and m.shape == (5, 1, 32, 48) and m.dtype == torch.float32
    assert set(torch.unique(m).tolist()) <= {0.0, 1.0}
    assert (m.flatten(1).sum(1) > 0).all()
    assert torch.equal(m, make_masks(kind, 5, 32, 48, seed=11))
    if kind != "center":
        assert not torch.equal(m, make_masks(kind, 5, 32, 48, seed=12))
        assert not torch.equal(m[0], m[1])  # one generator runs through the batch


def test_make_masks_unknown_kind_lists_the_known_ones(one_line):
    with one_line(ConfigError, match="center, blocks, free-form"):
        make_masks("circles", 2, 16, 16, seed=0)


# ---------------------------------------------------------------- load_mask


def test_load_mask_thresholds_at_128_and_resizes_nearest(tmp_path):
    grey = np.array([[0, 127, 128, 255],
                     [255, 128, 127, 0],
                     [10, 200, 10, 200],
                     [129, 126, 255, 255]], np.uint8)
    path = tmp_path / "mask.png"
    Image.fromarray(grey, mode="L").save(path)
    expected = (grey >= 128).astype(np.float32)
    m = load_mask(str(path), 4, 4)
    assert m.dtype == np.float32
    np.testing.assert_array_equal(m, expected)
    # an exact 2× nearest enlargement repeats every pixel in a 2×2 block
    np.testing.assert_array_equal(load_mask(str(path), 8, 8), np.kron(expected, np.ones((2, 2), np.float32)))
    # an RGB file is read as grey
    rgb = tmp_path / "mask_rgb.png"
    Image.fromarray(np.repeat(grey[:, :, None], 3, axis=2), mode="RGB").save(rgb)
    np.testing.assert_array_equal(load_mask(str(rgb), 4, 4), expected)


def test_load_mask_missing_or_unreadable_is_a_data_error(tmp_path, one_line):
    with one_line(DataError, match="no such mask file"):
        load_mask(str(tmp_path / "absent.png"), 8, 8)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png")
    with one_line(DataError, match="cannot read"):
        load_mask(str(junk), 8, 8)
