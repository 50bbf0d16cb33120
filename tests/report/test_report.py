"""Reports: self-contained HTML for toy and image runs, toy animations and D*, compare, CLI, TensorBoard, Chromium."""
from __future__ import annotations

import base64
import io
import json
import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit import report
from gankit.cli import main as cli_main
from gankit.errors import ConfigError
from gankit.report.toy import kde_density, optimal_discriminator, render_frames, sigmoid, write_mp4

TINY_TOY = ["train.steps=20", "train.batch_size=64", "model.g_width=16", "model.d_width=16", "model.depth=2",
            "train.log_every=5", "train.sample_every=10", "train.checkpoint_every=20", "train.progress=false",
            "train.threads=1"]
TINY_IMAGE = ["data.resolution=16", "model.g_width=8", "model.d_width=8", "model.z_dim=16", "model.conditional=true",
              "train.steps=6", "train.batch_size=16", "train.log_every=2", "train.sample_every=3",
              "train.checkpoint_every=6", "train.progress=false", "train.threads=1", "eval.metrics=[]"]
TOY_IDS = {"config", "samples", "curves", "health", "evaluation", "timing", "animation"}
IMAGE_IDS = {"config", "samples", "curves", "health", "evaluation", "timing", "interpolation", "nearest", "classes"}


class _Collector(HTMLParser):
    """Every start tag with its attributes, and every id."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])


def parse(path: Path) -> tuple[str, _Collector]:
    text = path.read_text(encoding="utf-8")
    p = _Collector()
    p.feed(text)
    p.close()
    return text, p


def check_self_contained(path: Path) -> tuple[_Collector, list[Image.Image]]:
    """Parses, has no network references, and every embedded picture decodes; returns the parser and images."""
    text, p = parse(path)
    for bad in ("http://", "https://", "//cdn"):
        assert bad not in text, f"{path.name} refers to the network ({bad})"
    assert not any(tag == "script" for tag, _ in p.tags), "reports need no scripts"
    assert not any(tag == "link" for tag, _ in p.tags), "no external stylesheets"
    images = []
    for tag, a in p.tags:
        if "src" in a:
            assert a["src"].startswith("data:"), f"<{tag} src> is not a data: URI: {a['src'][:60]}"
        if "href" in a:
            assert a["href"].startswith("#"), f"link leaves the page: {a['href']}"
        if tag == "img":
            head, b64 = a["src"].split(",", 1)
            assert head.endswith(";base64")
            raw = base64.b64decode(b64, validate=True)
            Image.open(io.BytesIO(raw)).verify()
            im = Image.open(io.BytesIO(raw))
            assert im.width > 0 and im.height > 0
            images.append(im)
    return p, images


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("toy") / "ring"
    gankit.train("ring", out=out, overrides=TINY_TOY)
    return out


@pytest.fixture(scope="module")
def image_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("img") / "digits"
    gankit.train("digits", out=out, overrides=TINY_IMAGE)
    return out


# --------------------------------------------------------------------------- the optimal discriminator


def test_optimal_discriminator_matches_closed_form() -> None:
    # p_data = N(0, 1), p_g = N(1, 1): p_g / p_data = exp(x - 1/2), so D*(x) = sigmoid(1/2 - x).
    x = np.linspace(-4, 4, 201)
    pdf = lambda x, m: np.exp(-0.5 * (x - m) ** 2) / np.sqrt(2 * np.pi)  # noqa: E731
    np.testing.assert_allclose(optimal_discriminator(pdf(x, 0), pdf(x, 1)), sigmoid(0.5 - x), rtol=1e-12, atol=1e-12)
    assert optimal_discriminator(np.array([0.0, 2.0]), np.array([0.0, 2.0])).tolist() == [0.5, 0.5]  # 0/0: no information
    # The KDE of many samples from p_g gives nearly the same D* where both densities have mass.
    rng = np.random.default_rng(0)
    p_g = kde_density(rng.normal(1.0, 1.0, 20000))
    inner = np.abs(x) < 1.5
    np.testing.assert_allclose(optimal_discriminator(pdf(x, 0), p_g(x))[inner], sigmoid(0.5 - x)[inner], atol=0.03)


def test_kde_of_collapsed_samples_is_finite() -> None:
    p = kde_density(np.full(100, 0.3))
    v = p(np.array([0.3, 1.0]))
    assert np.isfinite(v).all() and v[0] > v[1] > -1


# --------------------------------------------------------------------------- snapshots


def test_snapshot_grid_orientation(tmp_path: Path) -> None:
    """d_raw[iy, ix] is D at (grid_x[ix], grid_y[iy]): contours are drawn where D really has those values."""
    from gankit.config import load_preset
    from gankit.training.loop import Trainer

    t = Trainer(load_preset("ring", TINY_TOY + ["eval.metrics=[]"]), tmp_path / "run")
    assert not (tmp_path / "run" / "snapshots").exists(), "nothing is written before training starts"
    hook = next(h for h in t.hooks if type(h).__name__ == "SnapshotHook")
    hook(t, final=True)  # writes the recorded step 0 (and the current state, also step 0)
    snap = np.load(tmp_path / "run" / "snapshots" / "step0000000.npz", allow_pickle=False)
    assert snap["samples"].shape == (1000, 2) and snap["d_raw"].shape == (100, 100) and int(snap["step"]) == 0
    ix, iy = 3, 70
    with torch.no_grad():
        d = t.nets["D"](torch.tensor([[snap["grid_x"][ix], snap["grid_y"][iy]]]), None).item()
    assert d == pytest.approx(float(snap["d_raw"][iy, ix]), abs=1e-5)


def test_toy_report(toy_run: Path) -> None:
    snaps = sorted((toy_run / "snapshots").glob("step*.npz"))
    assert len(snaps) == 21  # step 0 and every step (max(1, 20 // 60) = 1)
    assert (toy_run / "report.html").is_file(), "the end of training writes the report"
    ends = [json.loads(line) for line in (toy_run / "metrics.jsonl").read_text().splitlines()]
    reports = [e for e in ends if e["event"] == "report"]
    assert len(reports) == 1 and reports[0]["path"] == "report.html" and "error" not in reports[0]
    gif = Image.open(toy_run / "animation.gif")
    assert gif.n_frames > 1
    assert Image.open(toy_run / "animation_last.png").size == gif.size
    p, images = check_self_contained(toy_run / "report.html")
    assert TOY_IDS <= p.ids
    assert "end of run" in (toy_run / "report.html").read_text()  # the report follows the run's end event
    assert any(getattr(im, "n_frames", 1) > 1 for im in images), "the animation is embedded"


def test_unknown_events_render_generically(toy_run: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    shutil.copytree(toy_run, run)
    with open(run / "metrics.jsonl", "a") as f:
        for rec in ({"event": "eval", "step": 10, "fid": 12.5, "kid": 0.01, "provenance": {"extractor": "toy-raw", "n": 2500}},
                    {"event": "eval", "step": 20, "fid": 8.25, "modes": 7.0, "provenance": {"extractor": "toy-raw", "n": 2500}},
                    {"event": "health", "step": 12, "check": "d_overfit", "value": 0.99},
                    {"event": "rollback", "step": 15, "to_step": 10, "reason": "nan <loss>"},
                    {"event": "early_stop", "step": 20, "reason": "fid plateau"}):
            f.write(json.dumps(rec) + "\n")
    text, p = parse(report.write_report(run))
    headers, rows = report.eval_table(report.load_run(run))
    assert headers[0] == "step" and headers[-1] == "provenance"
    assert {"fid", "kid", "modes"} <= set(headers) and not {"n", "n_real", "seed", "time"} & set(headers)
    row = next(r for r in rows if r[headers.index("fid")] == 8.25)
    assert row[0] == 20 and row[headers.index("kid")] == "" and "extractor=toy-raw" in row[-1] and "n=2500" in row[-1]
    for word in ("d_overfit", "rollback", "early_stop", "fid plateau", "12.5", "toy-raw"):
        assert word in text
    assert "nan &lt;loss&gt;" in text, "event text is escaped"
    check_self_contained(run / "report.html")


def test_mog1d_frames(tmp_path: Path) -> None:
    out = tmp_path / "m"
    gankit.train("mog1d", out=out, overrides=[o for o in TINY_TOY if "steps" not in o and "depth" not in o] + ["train.steps=8"])
    snap = np.load(out / "snapshots" / "step0000008.npz", allow_pickle=False)
    assert snap["samples"].shape == (1000, 1) and snap["d_raw"].shape == (400,) and snap["grid_y"].size == 0
    assert Image.open(out / "animation.gif").n_frames == 9
    frames = render_frames(sorted((int(p.stem[4:]), p) for p in (out / "snapshots").glob("*.npz"))[-2:], "wgan", "mog1d")
    assert len(frames) == 2 and frames[0].size == frames[1].size  # critic scores (no D*) render too


def test_mp4_skipped_silently_without_ffmpeg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    frames = [Image.new("RGB", (31, 21), c) for c in ("red", "blue")]
    assert write_mp4(frames, tmp_path / "a.mp4") is None
    assert not (tmp_path / "a.mp4").exists()


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg not installed (MP4 output is optional)")
def test_mp4_with_ffmpeg(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (31, 21), c) for c in ("red", "blue", "green")]
    out = write_mp4(frames, tmp_path / "a.mp4")
    assert out is not None and out.stat().st_size > 0


# --------------------------------------------------------------------------- image runs, compare, CLI


def test_image_report(image_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_main(["report", str(image_run)]) == 0
    assert str(image_run / "report.html") in capsys.readouterr().out
    p, images = check_self_contained(image_run / "report.html")
    assert IMAGE_IDS <= p.ids
    assert len(images) >= 6  # final samples, thumbnails, curves, interpolation, classes, nearest, throughput


def test_compare(toy_run: Path, image_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "cmp.html"
    assert cli_main(["compare", str(toy_run), str(image_run), "--out", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    p, images = check_self_contained(out)
    text = out.read_text()
    assert "ring" in text and "digits" in text
    assert {"runs", "curves", "samples", "timing"} <= p.ids
    assert len(images) >= 4  # two final samples, the curves, throughput
    with pytest.raises(ConfigError):
        report.compare([tmp_path / "nope"], tmp_path / "x.html")
    assert cli_main(["report", str(tmp_path / "nope")]) == 2
    assert "not a run directory" in capsys.readouterr().err


# --------------------------------------------------------------------------- TensorBoard


def test_tensorboard_flag_without_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import gankit.training.tensorboard as tb

    monkeypatch.setattr(tb, "tensorboard_available", lambda: False)
    with pytest.raises(ConfigError, match=r"pip install gankit\[tensorboard\]"):
        gankit.train("ring", out=tmp_path / "r", overrides=TINY_TOY + ["train.tensorboard=true"])


def test_tensorboard_writes_events(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="tensorboard not installed: pip install gankit[tensorboard]")
    out = tmp_path / "r"
    gankit.train("ring", out=out, overrides=[o.replace("steps=20", "steps=10") for o in TINY_TOY] + ["train.tensorboard=true"])
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(out / "tensorboard")).Reload()
    assert "train/d_loss" in acc.Tags()["scalars"] and "samples" in acc.Tags()["images"]
    assert [e.step for e in acc.Scalars("train/d_loss")] == [5, 10]


# --------------------------------------------------------------------------- a real browser


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None and os.environ.get("GANKIT_INSTALL_CHROMIUM") == "1" and hasattr(os, "geteuid") and os.geteuid() == 0:
        subprocess.run(["apt-get", "install", "-y", "chromium"], capture_output=True, timeout=900, check=False)
        exe = shutil.which("chromium")
    if exe is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    return exe


def test_report_opens_in_headless_chromium(toy_run: Path, tmp_path: Path) -> None:
    exe = _chromium()
    shot = tmp_path / "shot.png"
    cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
           f"--screenshot={shot}", "--window-size=1200,3000", (toy_run / "report.html").resolve().as_uri()]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert shot.is_file(), proc.stderr[-2000:]
    bad = [line for line in proc.stderr.splitlines()
           if "Uncaught" in line or "ERROR:CONSOLE" in line or ("CONSOLE" in line and "error" in line.lower())]
    assert not bad, bad
    im = Image.open(shot).convert("L")
    lo, hi = im.getextrema()
    assert im.size == (1200, 3000) and hi - lo > 100, "the screenshot is not blank"
    assert len(np.unique(np.asarray(im.resize((120, 300))))) > 20
