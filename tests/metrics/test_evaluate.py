"""Numbers for the evaluation layer: extractors, cached reference features, statistics files, evaluate_samples /
evaluate_run, the best-checkpoint rule and ``gankit evaluate``.

The digits-cnn classifier trains once per test session into the shared $GANKIT_CACHE set in tests/conftest.py (the
first test below asks for it so that one xdist worker trains while the other runs the cheap tests; the remaining
digits tests sit at the end of the module). Tests that need an empty cache point GANKIT_CACHE at their tmp_path and
never use digits-cnn.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import gankit
from gankit import cli
from gankit.config import data_config, load_file
from gankit.data import build_dataset, info_of
from gankit.data.images import load_digits, to_float
from gankit.errors import ConfigError, DataError
from gankit.metrics import digits_cnn as dcnn
from gankit.metrics._common import cache_root
from gankit.evaluation import evaluate_run
from gankit.metrics.evaluate import (
    evaluate_samples,
    is_better,
    load_stats,
    real_samples,
    reference_features,
    reference_key,
    save_stats,
)
from gankit.metrics.features import EXTRACTORS, Extractor, build_extractor, from_module, module_sha256
from gankit.metrics.fid import feature_stats, fid

PROVENANCE = ("metrics", "extractor", "extractor_sha256", "resize", "n_real", "n_fake", "reference", "seed",
              "gankit_version")


def dataset(name: str, **options):
    cfg = data_config({"name": name, **options})
    return cfg, info_of(build_dataset(cfg, "train"), name)


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    rc = cli.main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def events(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def digits_ext() -> Extractor:
    return build_extractor("digits-cnn")


@pytest.fixture(scope="module")
def digits_test():
    return load_digits(split="test")


@pytest.fixture(scope="module")
def ring_run(tmp_path_factory) -> Path:
    """A 50-step ring run evaluated at steps 25 and 50 (modes, n=500). Toy snapshots and the HTML report are
    skipped: they are the slow part of a tiny run and not what this module checks."""
    from gankit.training import snapshots

    run = tmp_path_factory.mktemp("ring") / "run"
    with pytest.MonkeyPatch.context() as mp:
        for hook in ("SnapshotHook", "ReportHook"):
            if hasattr(snapshots, hook):
                mp.setattr(getattr(snapshots, hook), "fire", lambda self, t: None)
        gankit.train("ring", out=run, overrides=["train.steps=50", "train.progress=false", "eval.every=25", "eval.n=500",
                                                 "model.g_width=32", "model.d_width=32", "train.batch_size=64"])
    return run


# --------------------------------------------------------------------------------------------------- digits-cnn (1)


def test_digits_cnn_sha256_is_the_cached_file_hash(digits_ext):
    path = cache_root() / "extractors" / f"digits-cnn-{dcnn.recipe_key()}.safetensors"
    assert path.is_file()
    assert digits_ext.weights_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert digits_ext.provenance() == {"extractor": "digits-cnn", "extractor_sha256": digits_ext.weights_sha256,
                                       "resize": digits_ext.resize}
    assert not [p.name for p in path.parent.iterdir() if p.suffix == ".tmp"]  # written atomically
    # Loading again (from the cache) gives the same weights and hash.
    net, sha = dcnn.load_digits_cnn()
    assert sha == digits_ext.weights_sha256
    assert dcnn.FEATURE_DIM == net.classifier.in_features == 128


def test_recipe_key_is_stable(monkeypatch):
    key = dcnn.recipe_key()
    assert key == hashlib.sha256(json.dumps(dcnn.RECIPE, sort_keys=True).encode()).hexdigest()[:16]
    # Pinned: a change here means every cached digits-cnn (and every digits FID) changes; say so in the notes.
    assert key == "d4a2c74f9cf58599"
    monkeypatch.setitem(dcnn.RECIPE, "epochs", dcnn.RECIPE["epochs"] + 1)
    assert dcnn.recipe_key() != key


# --------------------------------------------------------------------------------------------------- extractors


def test_extractor_registry_names():
    assert {"identity", "digits-cnn", "inception-v3-fid"} <= set(EXTRACTORS.names())
    with pytest.raises(ConfigError, match="nope"):
        build_extractor("nope")


def test_identity_extractor_flattens():
    x = torch.randn(5, 2, 3)
    out = build_extractor("identity")(x)
    assert out["probs"] is None and out["features"].dtype == np.float64
    np.testing.assert_array_equal(out["features"], x.reshape(5, 6).double().numpy())


def test_from_module_features_are_the_module_output():
    torch.manual_seed(0)
    lin = nn.Linear(3, 4)
    x = torch.randn(600, 3)
    ext = from_module(lin, name="lin", batch_size=256)  # 3 chunks: 256, 256, 88
    out = ext(x)
    with torch.no_grad():
        expected = lin(x)
    assert out["features"].shape == (600, 4) and out["probs"] is None
    np.testing.assert_array_equal(out["features"], expected.double().numpy())
    with_probs = from_module(lin, probs=True)(x)
    np.testing.assert_allclose(with_probs["probs"], expected.softmax(1).double().numpy(), rtol=1e-6)
    np.testing.assert_allclose(with_probs["probs"].sum(1), 1.0, atol=1e-6)
    assert ext.provenance()["extractor"] == "lin" and re.fullmatch("[0-9a-f]{64}", ext.weights_sha256)


def test_from_module_sha256_follows_the_weights():
    torch.manual_seed(0)
    lin = nn.Linear(3, 4)
    sha = from_module(lin).weights_sha256
    twin = nn.Linear(3, 4)
    twin.load_state_dict(lin.state_dict())
    assert from_module(twin).weights_sha256 == sha == module_sha256(lin)
    with torch.no_grad():
        lin.weight[0, 0] += 1e-3
    assert from_module(lin).weights_sha256 != sha


# --------------------------------------------------------------------------------------------------- reference cache


def test_reference_key_changes_with_everything_that_determines_it(tmp_path, monkeypatch):
    base = data_config({"name": "digits"})
    ext = Extractor("custom", lambda x: (x.flatten(1), None), "a" * 64)

    def key(cfg=base, split="train", e=ext, n=500, seed=0) -> str:
        return reference_key(cfg, split, e, n, seed)

    k0 = key()
    assert re.fullmatch("[0-9a-f]{64}", k0)
    # Equal inputs, built afresh (the extractor's function itself is not part of the key): equal key.
    assert key(data_config({"name": "digits"}), "train", Extractor("custom", lambda x: (x, None), "a" * 64), 500, 0) == k0
    # A relative path and the same path absolute are one dataset.
    monkeypatch.chdir(tmp_path)
    assert key(dataclasses.replace(base, path="folder")) == key(dataclasses.replace(base, path=str(tmp_path / "folder")))
    changed = {
        "data.name": key(dataclasses.replace(base, name="ring")),
        "data.resolution": key(dataclasses.replace(base, resolution=16)),
        "data.channels": key(dataclasses.replace(base, channels=3)),
        "split": key(split="test"),
        "extractor name": key(e=dataclasses.replace(ext, name="other")),
        "weights sha": key(e=dataclasses.replace(ext, weights_sha256="b" * 64)),
        "n": key(n=501),
        "seed": key(seed=1),
    }
    assert k0 not in changed.values()
    assert len(set(changed.values())) == len(changed), changed


def test_reference_features_cached_once_under_their_key(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    torch.manual_seed(0)
    lin = nn.Linear(2, 3)
    ext = from_module(lin, name="lin")
    cfg, _ = dataset("ring")
    first = reference_features(cfg, "train", ext, 300, seed=0)
    key = reference_key(cfg, "train", ext, 300, 0)
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert files == [tmp_path / "reference" / f"{key}.npz"]  # exactly one file, named by the key; no temp files
    second = reference_features(cfg, "train", ext, 300, seed=0)
    assert (first["cached"], second["cached"]) == (False, True)
    assert first["n"] == second["n"] == 300 and first["features"].shape == (300, 3)
    np.testing.assert_array_equal(first["features"], second["features"])
    # The features are the module's output on the seeded real samples (stored as float32).
    x, _ = real_samples(cfg, "train", 300, 0)
    with torch.no_grad():
        np.testing.assert_allclose(first["features"], lin(x).double().numpy(), rtol=1e-6, atol=1e-7)
    with np.load(files[0], allow_pickle=False) as z:
        assert set(z.files) == {"features", "probs", "labels"}
        assert z["features"].dtype == np.float32
    # Another seed is another file; the first stays.
    third = reference_features(cfg, "train", ext, 300, seed=1)
    assert not third["cached"] and not np.array_equal(third["features"], first["features"])
    assert len(list((tmp_path / "reference").iterdir())) == 2


def test_reference_features_with_probs_and_labels_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    torch.manual_seed(0)
    ext = from_module(nn.Sequential(nn.Flatten(), nn.Linear(64, 10)), name="tiny", probs=True)
    cfg = data_config({"name": "digits", "resolution": 8})
    first = reference_features(cfg, "test", ext, 100, seed=3)
    second = reference_features(cfg, "test", ext, 100, seed=3)
    assert (first["cached"], second["cached"]) == (False, True)
    for k in ("features", "probs", "labels"):
        np.testing.assert_array_equal(first[k], second[k])
    assert first["probs"].shape == (100, 10) and first["labels"].shape == (100,)
    np.testing.assert_allclose(second["probs"].sum(1), 1.0, atol=1e-6)
    _, labels = real_samples(cfg, "test", 100, 3)
    np.testing.assert_array_equal(second["labels"], labels)
    assert set(np.unique(labels)) <= set(range(10)) and len(np.unique(labels)) > 5


def test_identity_reference_is_sampled_not_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    cfg, _ = dataset("ring")
    ref = reference_features(cfg, "train", build_extractor("identity"), 200, seed=0)
    assert not ref["cached"] and ref["features"].shape == (200, 2)
    assert not list(tmp_path.rglob("*.npz"))


# --------------------------------------------------------------------------------------------------- statistics files


def test_save_load_stats_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((50, 6))
    mu, sigma = feature_stats(a)
    path = save_stats(tmp_path / "stats.npz", mu, sigma)
    assert path == tmp_path / "stats.npz" and sorted(p.name for p in tmp_path.iterdir()) == ["stats.npz"]
    mu2, sigma2 = load_stats(path)
    np.testing.assert_array_equal(mu2, mu)
    np.testing.assert_array_equal(sigma2, sigma)
    with np.load(path, allow_pickle=False) as z:  # plain arrays, readable by pytorch-fid
        assert set(z.files) == {"mu", "sigma"} and z["sigma"].dtype == np.float64


def _write_bad(kind: str, path: Path) -> Path:
    if kind == "missing sigma":
        np.savez(path, mu=np.zeros(3))
    elif kind == "sigma not F×F":
        np.savez(path, mu=np.zeros(3), sigma=np.zeros((3, 4)))
    elif kind == "mu not 1-d":
        np.savez(path, mu=np.zeros((3, 1)), sigma=np.eye(3))
    elif kind == "strings":
        np.savez(path, mu=np.array(["a", "b"]), sigma=np.eye(2))
    elif kind == "not an archive":
        path.write_bytes(b"mu and sigma, honest\n")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        np.savez(path, mu=np.zeros(30), sigma=np.eye(30))
        path.write_bytes(path.read_bytes()[:200])
    elif kind == "plain .npy":
        np.save(path, np.zeros(3))
        (path.parent / (path.name + ".npy")).rename(path)
    elif kind != "missing file":
        raise AssertionError(kind)
    return path


@pytest.mark.parametrize("kind", ["missing sigma", "sigma not F×F", "mu not 1-d", "strings", "not an archive", "empty",
                                  "truncated", "plain .npy", "missing file"])
def test_bad_stats_files_are_one_line_data_errors(tmp_path, one_line, kind):
    path = _write_bad(kind, tmp_path / "stats.npz")
    with one_line(DataError, match=re.escape(str(path))):
        load_stats(path)


class _Payload:
    """Unpickling this creates a directory: proof that something was unpickled."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("form", ["npz with object arrays", "npy object array", "raw pickle"])
def test_pickled_stats_are_refused_without_unpickling(tmp_path, one_line, form):
    marker = tmp_path / "unpickled"
    payload = np.array([_Payload(str(marker))], dtype=object)
    path = tmp_path / "stats.npz"
    if form == "npz with object arrays":
        np.savez(path, mu=payload, sigma=payload)
    elif form == "npy object array":
        with open(path, "wb") as f:
            np.save(f, payload, allow_pickle=True)
    else:
        path.write_bytes(pickle.dumps({"mu": payload, "sigma": payload}))
    with one_line(DataError, match="stats.npz"):
        load_stats(path)
    assert not marker.exists()
    pickle.loads(pickle.dumps(payload[0]))  # the payload works: a load that unpickled would have made the marker
    assert marker.is_dir()


# --------------------------------------------------------------------------------------------------- evaluate_samples


def test_real_ring_samples_score_as_real():
    cfg, info = dataset("ring")
    fake = build_dataset(cfg, "train").sample(2500, torch.Generator().manual_seed(123))
    r = evaluate_samples(fake, info, cfg, ["modes", "fid"])
    assert r["modes"] == 8 and r["hq_fraction"] >= 0.98  # 1 - exp(-4.5) = 0.989 of 2-D Gaussian mass within 3 std
    assert r["reverse_kl"] < 0.01
    assert 0.0 <= r["fid"] < 0.01
    for key in PROVENANCE:
        assert key in r, key
    assert r["metrics"] == ["modes", "fid"] and r["extractor"] == "identity" and r["extractor_sha256"] is None
    assert (r["n_real"], r["n_fake"], r["reference"], r["seed"]) == (2500, 2500, "ring/train", 0)
    assert r["gankit_version"] == gankit.__version__
    for key, value in r.items():
        if key == "metrics":
            assert all(isinstance(m, str) for m in value)
        elif key != "extractor_sha256":
            assert isinstance(value, (int, float, str)), (key, value)
    assert json.loads(json.dumps(r)) == r


def test_collapsed_generator_finds_one_mode():
    cfg, info = dataset("ring")
    gen = torch.Generator().manual_seed(0)
    center = torch.tensor(info.centers[3], dtype=torch.float32)
    fake = center + 0.01 * torch.randn(1000, 2, generator=gen)
    r = evaluate_samples(fake, info, cfg, ["modes", "fid"])
    assert r["modes"] == 1
    assert r["reverse_kl"] == pytest.approx(math.log(8), rel=1e-9)  # all mass on one of 8 modes
    assert r["fid"] > 0.5  # the ring has variance 0.5 per axis; the collapsed samples almost none


@pytest.mark.parametrize("metric", ["is", "classes"])
def test_probability_metrics_need_a_classifier(one_line, metric):
    cfg, info = dataset("ring")
    with one_line(ConfigError, match="probabilities") as e:
        evaluate_samples(torch.zeros(20, 2), info, cfg, [metric])
    assert "identity" in str(e.value)


def test_modes_on_images_is_a_config_error(one_line):
    cfg, info = dataset("digits")
    with one_line(ConfigError, match="modes"):  # refused before any work (no extractor is built)
        evaluate_samples(torch.zeros(4, 1, 32, 32), info, cfg, ["modes"])


def test_unknown_metric_is_a_config_error(one_line):
    cfg, info = dataset("ring")
    with one_line(ConfigError, match="'nope'"):
        evaluate_samples(torch.zeros(4, 2), info, cfg, ["nope"])


def test_fid_against_a_statistics_file_equals_fid_on_features(tmp_path):
    cfg, info = dataset("ring")
    n = 800
    ref = reference_features(cfg, "train", build_extractor("identity"), n, seed=0)
    stats = load_stats(save_stats(tmp_path / "ring.npz", *feature_stats(ref["features"])))
    fake = build_dataset(cfg, "train").sample(n, torch.Generator().manual_seed(5)) * 1.1 + 0.05
    with_stats = evaluate_samples(fake, info, cfg, ["fid"], ref_stats=stats)
    direct = fid(ref["features"], fake.double().numpy())
    assert direct > 0.01  # a real difference to reproduce, not rounding
    assert with_stats["fid"] == pytest.approx(direct, rel=1e-8)
    assert with_stats["fid"] == pytest.approx(evaluate_samples(fake, info, cfg, ["fid"])["fid"], rel=1e-8)
    assert with_stats["reference"] == "statistics file"


def test_statistics_of_another_feature_space_are_refused(tmp_path, one_line):
    cfg, info = dataset("ring")
    stats = (np.zeros(3), np.eye(3))
    with one_line(DataError, match="3 features"):
        evaluate_samples(torch.zeros(10, 2), info, cfg, ["fid"], ref_stats=stats)


# --------------------------------------------------------------------------------------------------- best checkpoint


@pytest.mark.parametrize("metric, new, old, better", [
    ("fid", 1.0, 2.0, True), ("fid", 2.0, 1.0, False), ("fid", 1.0, 1.0, False), ("fid", 5.0, None, True),
    ("kid", 0.1, 0.2, True), ("class_kl", 0.1, 0.2, True), ("reverse_kl", 0.1, 0.2, True),
    ("modes", 8.0, 7.0, True), ("modes", 7.0, 8.0, False), ("recall", 0.9, 0.8, True), ("is", 9.0, 8.0, True),
    # values that are not a metric's primary one keep their own direction
    ("hq_fraction", 0.9, 0.8, True), ("hq_fraction", 0.8, 0.9, False), ("classes", 10.0, 9.0, True),
    ("precision", 0.9, 0.8, True),
    # NaN / inf never improve; a NaN best is improved on by any finite value
    ("fid", math.nan, 1.0, False), ("modes", math.nan, None, False), ("fid", math.inf, 1.0, False),
    ("reverse_kl", math.inf, None, False), ("fid", 3.0, math.nan, True),
])
def test_is_better(metric, new, old, better):
    assert is_better(metric, new, old) is better


# --------------------------------------------------------------------------------------------------- runs and CLI


def test_training_logs_evaluations_and_keeps_the_best(ring_run):
    log = [e for e in events(ring_run) if "source" not in e]  # other tests may append `gankit evaluate` events
    evals = [e for e in log if e["event"] == "eval"]
    assert [e["step"] for e in evals] == [25, 50]
    for e in evals:
        assert 0 <= e["modes"] <= 8 and e["n_fake"] == 500 and e["n_real"] == 500 and e["metrics"] == ["modes"]
        assert e["extractor"] == "identity" and e["reference"] == "ring/train"
    bests = [e for e in log if e["event"] == "best"]
    assert bests and all(b["metric"] == "modes" for b in bests)
    last = bests[-1]
    assert last["value"] == max(e["modes"] for e in evals)
    assert last["value"] == next(e["modes"] for e in evals if e["step"] == last["step"])
    best = ring_run / "best"
    assert sorted(p.name for p in best.iterdir()) == ["config.json", "model.safetensors"]
    meta = json.loads((best / "config.json").read_text())
    assert meta["step"] == last["step"] and meta["modes"] == last["value"]
    G = gankit.load(best)
    assert gankit.generate(G, 7, seed=0).shape == (7, 2)


def test_cli_evaluate_run_prints_json_and_logs_an_event(ring_run, capsys):
    before = len(events(ring_run))
    rc, out, err = run_cli(capsys, "evaluate", str(ring_run), "--metrics", "modes,fid", "--n", "500", "--json")
    assert (rc, err) == (0, "")
    assert len(out.splitlines()) == 1
    result = json.loads(out)
    for key in ("modes", "hq_fraction", "reverse_kl", "fid", *PROVENANCE):
        assert key in result, key
    assert result["metrics"] == ["modes", "fid"] and result["n_fake"] == 500
    # RUN/generator/config.json does not record its step (Trainer.export passes no "step"), so evaluate_run can
    # only log one when the generator carries it (RUN/best/ does); when present it must be the last step.
    assert result.get("step", 50) == 50
    assert 0 <= result["modes"] <= 8 and math.isfinite(result["fid"]) and result["fid"] >= 0
    after = events(ring_run)
    assert len(after) == before + 1
    logged = after[-1]
    assert logged["event"] == "eval" and logged["source"] == "gankit evaluate"
    assert {k: logged[k] for k in result} == result
    # The same noise as the training-time evaluation at the last step (eval.seed=0, n=500, G_ema exported at 50).
    trained = next(e for e in after if e["event"] == "eval" and e.get("step") == 50 and "source" not in e)
    assert (result["modes"], result["hq_fraction"]) == (trained["modes"], trained["hq_fraction"])


def test_evaluate_run_fid_against_statistics_file(ring_run, tmp_path):
    cfg = load_file(ring_run / "config.json").data
    ref = reference_features(cfg, "train", build_extractor("identity"), 500, seed=0)
    path = save_stats(tmp_path / "ring-stats.npz", *feature_stats(ref["features"]))
    with_stats = evaluate_run(ring_run, ["fid"], 500, ref_stats=str(path), log=False)
    plain = evaluate_run(ring_run, ["fid"], 500, log=False)
    assert with_stats["fid"] == pytest.approx(plain["fid"], rel=1e-8)
    assert with_stats["reference"] == "statistics file" and plain["reference"] == "ring/train"


def test_cli_real_vs_real_ring(capsys):
    rc, out, err = run_cli(capsys, "evaluate", "--real-vs-real", "ring", "--metrics", "modes", "--n", "1000", "--json")
    assert (rc, err) == (0, "")
    result = json.loads(out)
    assert result["modes"] == 8 and result["hq_fraction"] >= 0.97
    assert result["reference"] == "ring/train vs ring/test" and result["n_fake"] == result["n_real"] == 1000


def _assert_cli_error(rc: int, out: str, err: str, match: str) -> None:
    assert rc == 2 and out == ""
    assert err.startswith("gankit: error: ") and err.count("\n") == 1 and err.endswith("\n"), repr(err)
    assert re.search(match, err), err


@pytest.mark.parametrize("argv, match", [
    (["--real-vs-real", "ring", "--metrics", "modes,nope"], "'nope'"),
    (["--metrics", "fid"], "RUN"),
    (["{missing}", "--metrics", "fid"], "no such run"),
])
def test_cli_evaluate_errors(tmp_path, capsys, argv, match):
    argv = [a.replace("{missing}", str(tmp_path / "missing")) for a in argv]
    _assert_cli_error(*run_cli(capsys, "evaluate", *argv), match)


def test_cli_evaluate_run_errors(ring_run, tmp_path, capsys):
    before = len(events(ring_run))
    stats = save_stats(tmp_path / "stats.npz", np.zeros(2), np.eye(2))
    _assert_cli_error(*run_cli(capsys, "evaluate", str(ring_run), "--metrics", "modes", "--ref-stats", str(stats)),
                      "--ref-stats.*fid")
    _assert_cli_error(*run_cli(capsys, "evaluate", str(ring_run), "--metrics", "fid,nope"), "'nope'")
    _assert_cli_error(*run_cli(capsys, "evaluate", str(ring_run), "--metrics", "fid", "--ref-stats",
                               str(tmp_path / "absent.npz")), "no such statistics file")
    wrong = save_stats(tmp_path / "wide.npz", np.zeros(5), np.eye(5))
    _assert_cli_error(*run_cli(capsys, "evaluate", str(ring_run), "--metrics", "fid", "--ref-stats", str(wrong)),
                      "5 features")
    assert len(events(ring_run)) == before  # nothing logged by a refused evaluation


# --------------------------------------------------------------------------------------------------- digits-cnn (2)


def test_digits_cnn_test_accuracy(digits_test):
    net, _ = dcnn.load_digits_cnn()
    with torch.no_grad():
        _, logits = net(dcnn.prepare(to_float(digits_test.images)))
    accuracy = (logits.argmax(1) == digits_test.labels).double().mean().item()
    assert len(digits_test) == 359 and accuracy >= 0.97


def test_digits_cnn_features_do_not_depend_on_batch_size(digits_ext, digits_test):
    x = to_float(digits_test.images[:50])
    assert digits_ext.batch_size >= 50
    small = dataclasses.replace(digits_ext, batch_size=7)(x)
    whole = digits_ext(x)
    assert whole["features"].shape == (50, 128) and whole["probs"].shape == (50, 10)
    np.testing.assert_allclose(small["features"], whole["features"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(small["probs"], whole["probs"], atol=1e-5, rtol=0)


def test_digits_cnn_takes_rgb_and_other_sizes(digits_ext, digits_test):
    grey = digits_ext(to_float(digits_test.images[:40]))
    rgb = digits_ext(to_float(digits_test.images[:40]).repeat(1, 3, 1, 1))
    np.testing.assert_allclose(rgb["features"], grey["features"], atol=1e-4)  # luma weights sum to 1
    for resolution, channels in ((16, 1), (64, 3)):
        data = load_digits(resolution=resolution, channels=channels, split="test")
        out = digits_ext(to_float(data.images))
        assert out["features"].shape == (len(data), 128) and out["probs"].shape == (len(data), 10)
        assert out["probs"].min() >= 0
        np.testing.assert_allclose(out["probs"].sum(1), 1.0, atol=1e-6)
        assert (out["probs"].argmax(1) == data.labels.numpy()).mean() >= 0.95
    with pytest.raises(ValueError, match="channels"):
        dcnn.prepare(torch.zeros(2, 2, 32, 32))


def test_evaluate_digits_real_vs_noise(digits_ext, digits_test):
    cfg, info = dataset("digits")
    real = evaluate_samples(to_float(digits_test.images), info, cfg, ["fid", "classes", "is"], extractor=digits_ext)
    assert real["classes"] == 10 and real["class_kl"] < 0.1
    assert math.isfinite(real["fid"]) and real["fid"] >= 0
    assert 1.0 < real["is"] <= 10.0 and real["is"] > 5  # a 99%-accurate classifier on balanced classes
    assert real["extractor"] == "digits-cnn" and real["extractor_sha256"] == digits_ext.weights_sha256
    assert (real["n_real"], real["n_fake"], real["reference"]) == (359, 359, "digits/train")
    key = reference_key(cfg, "train", digits_ext, 359, 0)
    assert (cache_root() / "reference" / f"{key}.npz").is_file()
    noise = torch.rand(359, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
    bad = evaluate_samples(noise, info, cfg, ["fid", "is"], extractor=digits_ext)
    assert bad["fid"] > 10 * real["fid"]
    assert 1.0 <= bad["is"] < real["is"]
    assert json.loads(json.dumps(bad)) == bad


# --------------------------------------------------------------------------------------------------- 8-bit scoring


def test_to_uint8_is_stylegan2_ada_conversion():
    u = torch.arange(256, dtype=torch.uint8).view(1, 1, 16, 16)
    from gankit.data.images import quantize, to_uint8

    assert torch.equal(to_uint8(to_float(u)), u)  # the grid maps onto itself
    x = torch.tensor([-3.0, -1.0, -0.999, 0.0, 0.5, 0.9999, 1.0, 7.0])
    ref = torch.floor(torch.clamp(x.double() * 127.5 + 128, 0, 255)).to(torch.uint8)
    assert torch.equal(to_uint8(x), ref)
    assert torch.equal(quantize(x), to_float(ref))


def test_generated_images_are_scored_on_the_8bit_grid(digits_ext, digits_test):
    """Scoring x and scoring its 8-bit version give the same numbers, on every path that goes through
    evaluate_samples (gankit evaluate, training-time evaluation and the best-checkpoint rule)."""
    cfg, info = dataset("digits")
    g = torch.Generator().manual_seed(0)
    clean = to_float(digits_test.images[:200])
    x = clean + 0.6 * torch.randn(clean.shape, generator=g)  # off-grid and 20 % outside [-1, 1], like a linear G output
    assert (x.abs() > 1).float().mean() > 0.1
    from gankit.data.images import to_uint8

    raw = evaluate_samples(x, info, cfg, ["fid", "pr"], extractor=digits_ext, n_real=500)
    eight = evaluate_samples(to_float(to_uint8(x)), info, cfg, ["fid", "pr"], extractor=digits_ext, n_real=500)
    assert raw["fid"] == eight["fid"] and raw["precision"] == eight["precision"] and raw["fake_8bit"] is True
    unquantized = fid(reference_features(cfg, "train", digits_ext, 500)["features"], digits_ext(x)["features"])
    assert abs(unquantized - raw["fid"]) > 1e-3 * raw["fid"]  # what scoring the raw floats gave before
