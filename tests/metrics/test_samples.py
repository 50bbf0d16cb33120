"""Numbers for ``gankit evaluate --samples PATH --against DATASET|STATS.npz`` (gankit.data.samples, evaluate_files).

The file path must score exactly as the in-memory path: a folder of PNGs, uint8 arrays in either layout and float
arrays in [-1, 1] of the same images give the same FID as ``evaluate_samples`` on the tensors; the extractor sees
exactly ``to_float`` of the 8-bit images; a statistics file of the reference features gives the dataset's FID.
The digits images are the bundled test split at their native 8×8, scored with ``digits-cnn`` (trained once per
session into the shared $GANKIT_CACHE, see tests/conftest.py) against 500 train images.
"""
from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit import cli, evaluation
from gankit.config import data_config
from gankit.data import build_dataset, info_of
from gankit.data.images import load_digits, quantize, to_float, to_uint8
from gankit.data.samples import read_samples, samples_from_array
from gankit.errors import DataError
from gankit.evaluation import evaluate_files
from gankit.metrics.evaluate import evaluate_samples, reference_features, save_stats
from gankit.metrics.features import Extractor, build_extractor
from gankit.metrics.fid import feature_stats, fid

N_REAL = 500


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = cli.main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture(scope="module")
def digits_ext() -> Extractor:
    return build_extractor("digits-cnn")


@pytest.fixture(scope="module")
def images() -> torch.Tensor:
    """The digits test split at 8×8: uint8 359×1×8×8."""
    return load_digits(resolution=8, split="test").images


@pytest.fixture(scope="module")
def files(tmp_path_factory, images) -> dict[str, Path]:
    """The same images as a PNG folder, uint8 NHWC / NCHW .npy, a float .npy in [-1, 1] and an .npz with two arrays."""
    root = tmp_path_factory.mktemp("samples")
    folder = root / "pngs"
    folder.mkdir()
    for i, img in enumerate(images.numpy()):
        Image.fromarray(img[0], mode="L").save(folder / f"{i:04d}.png")
    u8 = images.numpy()
    out = {"folder": folder, "nhwc": root / "nhwc.npy", "nchw": root / "nchw.npy", "float": root / "float.npy",
           "npz": root / "samples.npz"}
    np.save(out["nhwc"], u8.transpose(0, 2, 3, 1))
    np.save(out["nchw"], u8)
    np.save(out["float"], to_float(images).numpy())
    np.savez(out["npz"], labels=np.arange(len(u8)), images=u8)
    return out


@pytest.fixture(scope="module")
def digits8():
    cfg = data_config({"name": "digits", "resolution": 8, "channels": 1})
    return cfg, info_of(build_dataset(cfg, "train"), "digits")


# --------------------------------------------------------------------------------------------------- digits-cnn


def test_files_score_exactly_as_the_in_memory_path(files, images, digits8, digits_ext):
    cfg, info = digits8
    direct = evaluate_samples(to_float(images), info, cfg, ["fid"], extractor=digits_ext, n_real=N_REAL, seed=0)
    assert direct["fid"] > 0
    for kind, path in files.items():
        got = evaluate_files(path, "digits", ["fid"], n=N_REAL, extractor="digits-cnn")
        assert got["fid"] == direct["fid"], kind
        assert (got["n_fake"], got["n_real"], got["reference"], got["samples"]) == (len(images), N_REAL, "digits/train", str(path))
        assert got["fake_8bit"] is True and got["extractor_sha256"] == digits_ext.weights_sha256


def test_cli_json_equals_the_python_api(capsys, files, images, digits8, digits_ext):
    rc, out, err = run_cli(capsys, "evaluate", "--samples", files["folder"], "--against", "digits", "--metrics", "fid",
                           "--extractor", "digits-cnn", "--n", N_REAL, "--json")
    assert rc == 0, err
    result = json.loads(out)
    assert result["fid"] == evaluate_files(files["nchw"], "digits", ["fid"], n=N_REAL, extractor="digits-cnn")["fid"]
    assert (result["samples"], result["n_fake"], result["reference"], result["metrics"]) == (
        str(files["folder"]), len(images), "digits/train", ["fid"])
    # the first 100 only: as evaluate_samples on them
    rc, out, err = run_cli(capsys, "evaluate", "--samples", files["nhwc"], "--against", "digits", "--metrics", "fid",
                           "--max-samples", 100, "--n", N_REAL, "--json")
    cfg, info = digits8
    direct = evaluate_samples(to_float(images[:100]), info, cfg, ["fid"], extractor=digits_ext, n_real=N_REAL)
    assert rc == 0 and json.loads(out)["fid"] == direct["fid"] and json.loads(out)["n_fake"] == 100


def test_the_extractor_sees_exactly_the_8bit_images(monkeypatch, capsys, tmp_path, files, images, digits_ext):
    """The whole CLI path on images that are already 8-bit gives the extractor's features on to_float(images)."""
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []

    def recording(x: torch.Tensor):
        f, p = digits_ext.fn(x)
        seen.append((x.clone(), f.clone()))
        return f, p

    monkeypatch.setattr(evaluation, "build_extractor", lambda name, **kw: dataclasses.replace(digits_ext, fn=recording))
    rc, _, err = run_cli(capsys, "evaluate", "--samples", files["folder"], "--against", "digits", "--metrics", "fid",
                         "--n", N_REAL)
    assert rc == 0, err
    calls = math.ceil(len(images) / digits_ext.batch_size)  # the samples are extracted first, then the reference
    assert torch.equal(torch.cat([x for x, _ in seen[:calls]]), to_float(images))
    direct = digits_ext(to_float(images))["features"]
    np.testing.assert_array_equal(torch.cat([f for _, f in seen[:calls]]).double().numpy(), direct)
    # and through a statistics file of those very features: FID zero up to rounding
    save_stats(tmp_path / "self.npz", *feature_stats(direct))
    monkeypatch.undo()
    got = evaluate_files(files["folder"], tmp_path / "self.npz", extractor="digits-cnn")
    assert abs(got["fid"]) < 1e-9 * np.trace(feature_stats(direct)[1])


def test_floats_outside_the_range_score_as_their_8bit_file(tmp_path, images, digits8, digits_ext):
    gen = torch.Generator().manual_seed(0)
    y = 1.3 * to_float(images) + 0.05 * torch.randn(images.shape, generator=gen)  # overshoots [-1, 1] on both sides
    assert y.min() < -1 and y.max() > 1
    np.save(tmp_path / "y.npy", y.numpy())
    np.save(tmp_path / "y8.npy", to_uint8(y).numpy().transpose(0, 2, 3, 1))
    a = evaluate_files(tmp_path / "y.npy", "digits", ["fid"], n=N_REAL, extractor="digits-cnn")["fid"]
    b = evaluate_files(tmp_path / "y8.npy", "digits", ["fid"], n=N_REAL, extractor="digits-cnn")["fid"]
    ref = reference_features(digits8[0], "train", digits_ext, N_REAL, 0)["features"]
    assert a == b == fid(ref, digits_ext(quantize(y))["features"])
    raw = fid(ref, digits_ext(y)["features"])  # the unrounded floats measure something else
    assert abs(raw - a) > 1e-3 * a


def test_fid_against_a_statistics_file_equals_fid_against_the_dataset(tmp_path, files, digits8, digits_ext):
    ref = reference_features(digits8[0], "train", digits_ext, N_REAL, 0)["features"]
    stats = save_stats(tmp_path / "digits-train.npz", *feature_stats(ref))
    by_data = evaluate_files(files["folder"], "digits", ["fid"], n=N_REAL, extractor="digits-cnn")
    by_stats = evaluate_files(files["folder"], stats, extractor="digits-cnn")  # metrics default to fid
    assert by_stats["fid"] == pytest.approx(by_data["fid"], rel=1e-12, abs=0)
    assert (by_stats["metrics"], by_stats["reference"], by_stats["n_fake"]) == (["fid"], str(stats), by_data["n_fake"])
    assert "n_real" not in by_stats and by_stats["fake_8bit"] is True


def test_against_the_same_images_fid_is_zero(capsys, files):
    """The test split against itself (--split test, n ≥ 359: every image), and against a folder dataset of the same
    PNGs (data.path given as a positional override after --against)."""
    for extra in (["--against", "digits", "--split", "test"], ["--against", "folder", f"data.path={files['folder']}"]):
        rc, out, err = run_cli(capsys, "evaluate", "--samples", files["npz"], *extra, "--metrics", "fid",
                               "--extractor", "digits-cnn", "--n", 1000, "--json")
        assert rc == 0, err
        result = json.loads(out)
        assert abs(result["fid"]) < 1e-9 and result["n_real"] == result["n_fake"] == 359


# --------------------------------------------------------------------------------------------------- points


def test_ring_points_at_three_centres_recover_three_modes(capsys, tmp_path):
    centres = np.array([[math.cos(math.pi * k / 4), math.sin(math.pi * k / 4)] for k in (0, 2, 5)])
    np.save(tmp_path / "ring.npy", np.repeat(centres, 100, axis=0))  # float64 is fine
    rc, out, err = run_cli(capsys, "evaluate", "--samples", tmp_path / "ring.npy", "--against", "ring",
                           "--metrics", "modes", "--n", 500, "--json")
    assert rc == 0, err
    result = json.loads(out)
    assert result["modes"] == 3 and result["hq_fraction"] == 1.0
    assert result["reverse_kl"] == pytest.approx(math.log(8 / 3), abs=1e-12)  # uniform over 3 of 8 modes
    assert (result["n_fake"], result["reference"], result["fake_8bit"]) == (300, "ring/train", False)
    # default metrics are the points schema's: modes
    assert evaluate_files(tmp_path / "ring.npy", "ring")["metrics"] == ["modes"]


def test_points_against_a_statistics_file(tmp_path):
    x = np.random.default_rng(0).normal(size=(400, 2)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    save_stats(tmp_path / "s.npz", np.array([1.0, 0.0]), np.eye(2))  # N((1, 0), I)
    got = evaluate_files(tmp_path / "x.npy", tmp_path / "s.npz")  # identity features by default for points
    mu, sigma = feature_stats(x.astype(np.float64))
    assert got["extractor"] == "identity" and got["fake_8bit"] is False
    # fid(N(mu, S), N(m, I)) = |mu - m|² + tr S + 2 - 2 tr S^½
    expected = ((mu - [1, 0]) ** 2).sum() + np.trace(sigma) + 2 - 2 * np.sqrt(np.linalg.eigvalsh(sigma)).sum()
    assert got["fid"] == pytest.approx(expected, rel=1e-9)


# --------------------------------------------------------------------------------------------------- reading


def test_array_conventions():
    u8 = torch.randint(0, 256, (4, 3, 5, 6), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    nchw = samples_from_array(u8.numpy(), "a")
    assert nchw.dtype == torch.float32 and torch.equal(nchw, to_float(u8))
    assert torch.equal(samples_from_array(u8.permute(0, 2, 3, 1).numpy(), "a"), nchw)
    assert torch.equal(samples_from_array(u8[:, 0].numpy(), "a"), to_float(u8[:, :1]))  # N×H×W grey
    f = torch.linspace(-1.2, 1.2, 4 * 3 * 5 * 6).reshape(4, 3, 5, 6)
    assert torch.equal(samples_from_array(f.double().numpy(), "a"), f)  # floats pass as stored (rounded later)
    assert torch.equal(samples_from_array(f.permute(0, 2, 3, 1).numpy().astype(np.float16), "a"),
                       f.half().float())
    pts = np.arange(10, dtype=np.float64).reshape(5, 2)
    assert torch.equal(samples_from_array(pts, "a"), torch.tensor(pts, dtype=torch.float32))


def test_image_folder_modes(tmp_path):
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (2, 6, 6, 3), dtype=np.uint8)
    for i, arr in enumerate(rgb):
        Image.fromarray(arr, "RGB").save(tmp_path / f"b{i}.png")
        rgba = np.concatenate([arr, np.full((6, 6, 1), 255, np.uint8)], axis=2)
        Image.fromarray(rgba, "RGBA").save(tmp_path / f"a{i}.png")  # opaque RGBA: composited on black = RGB
    x = read_samples(tmp_path)  # sorted: a0 a1 b0 b1
    assert x.shape == (4, 3, 6, 6)
    assert torch.equal(x[:2], x[2:]) and torch.equal(x[2:], to_float(torch.from_numpy(rgb).permute(0, 3, 1, 2)))
    grey = tmp_path / "grey"
    grey.mkdir()
    Image.fromarray(rgb[0, :, :, 0], "L").save(grey / "g.png")
    assert read_samples(grey).shape == (1, 1, 6, 6)


ERRORS = {
    "missing path": (["--samples", "{d}/nope", "--against", "digits"], "no such file or folder"),
    "pickled npy": (["--samples", "{d}/obj.npy", "--against", "digits"], "never unpickles"),
    "wrong shape": (["--samples", "{d}/five.npy", "--against", "digits"], "no channel axis of size 1 or 3"),
    "5 dims": (["--samples", "{d}/five_d.npy", "--against", "digits"], "float32 array of shape"),
    "nan": (["--samples", "{d}/nan.npy", "--against", "digits"], "NaN or infinite"),
    "int points": (["--samples", "{d}/ints.npy", "--against", "ring"], "int64 array"),
    "sizes differ": (["--samples", "{d}/mixed", "--against", "digits"], "same size and channels"),
    "stats as samples": (["--samples", "{d}/stats.npz", "--against", "digits"], "pass it as --against"),
    "npz without a name": (["--samples", "{d}/two.npz", "--against", "digits"], "none is named samples"),
    "points vs images": (["--samples", "{d}/pts.npy", "--against", "digits"], "is an image dataset"),
    "images vs points": (["--samples", "{d}/img.npy", "--against", "ring"], "is a points dataset"),
    "coordinates": (["--samples", "{d}/pts.npy", "--against", "mog1d"], "has 1"),
    "with RUN": (["{d}", "--samples", "{d}/pts.npy", "--against", "ring"], "give one of them"),
    "with real-vs-real": (["--real-vs-real", "ring", "--samples", "{d}/pts.npy", "--against", "ring"], "give one of them"),
    "no against": (["--samples", "{d}/pts.npy"], "--samples needs --against"),
    "against alone": (["--against", "ring"], "goes with --samples"),
    "stats and kid": (["--samples", "{d}/img.npy", "--against", "{d}/stats.npz", "--metrics", "kid"], "only gives --metrics fid"),
    "stats and split": (["--samples", "{d}/img.npy", "--against", "{d}/stats.npz", "--split", "test"], "takes no data options"),
    "stats dim": (["--samples", "{d}/img.npy", "--against", "{d}/stats.npz", "--extractor", "digits-cnn"], "have 3 features"),
    "ref-stats": (["--samples", "{d}/pts.npy", "--against", "ring", "--ref-stats", "{d}/stats.npz"], "with --samples give"),
    "unknown dataset": (["--samples", "{d}/pts.npy", "--against", "rnig"], "neither a dataset"),
    "ppl": (["--samples", "{d}/pts.npy", "--against", "ring", "--metrics", "ppl"], "needs the generator"),
    "folder needs path": (["--samples", "{d}/img.npy", "--against", "folder"], "data.path"),
}


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad")
    np.save(d / "obj.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    np.save(d / "five.npy", np.zeros((10, 5, 5, 5), np.uint8))
    np.save(d / "five_d.npy", np.zeros((2, 1, 1, 8, 8), np.float32))
    np.save(d / "nan.npy", np.full((4, 1, 8, 8), np.nan, np.float32))
    np.save(d / "ints.npy", np.zeros((10, 2), np.int64))
    np.save(d / "pts.npy", np.zeros((10, 2), np.float32))
    np.save(d / "img.npy", np.zeros((10, 8, 8, 1), np.uint8))
    np.savez(d / "two.npz", a=np.zeros(3), b=np.zeros(3))
    save_stats(d / "stats.npz", np.zeros(3), np.eye(3))
    (d / "mixed").mkdir()
    Image.new("L", (8, 8)).save(d / "mixed" / "a.png")
    Image.new("L", (9, 9)).save(d / "mixed" / "b.png")
    return d


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_are_one_line_exit_2(capsys, bad_files, case):
    argv, needle = ERRORS[case]
    rc, out, err = run_cli(capsys, "evaluate", *(a.format(d=bad_files) for a in argv))
    assert rc == 2, (case, out, err)
    assert err.count("\n") == 1 and err.startswith("gankit: error: ") and "Traceback" not in err, err
    assert needle in err, err


def test_reader_error_names_the_file(bad_files, one_line):
    with one_line(DataError, match=r"five\.npy.*\(10, 5, 5, 5\)"):
        read_samples(bad_files / "five.npy")


def test_a_first_data_override_is_not_taken_for_run(capsys):
    """argparse hands the first positional to RUN; a key=value there is an override (here of --real-vs-real)."""
    rc, out, err = run_cli(capsys, "evaluate", "--real-vs-real", "ring", "data.radius=2", "--metrics", "modes",
                           "--n", 200, "--json")
    assert rc == 0, err
    assert json.loads(out)["modes"] == 8
