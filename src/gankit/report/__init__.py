"""Reports: one self-contained HTML page per run (``gankit report RUN``) or per comparison (``gankit compare``).

Everything here reads the run directory only (config.json, metrics.jsonl, samples/, snapshots/, generator/)
plus, for the nearest-neighbour check and a table's columns panel, the training data the config names. Event types
this module does not know are still shown: numeric fields of ``eval`` events become the evaluation table and curves,
and every non-routine event (health, rollback, early_stop, ...) is listed and marked on the curves.

>>> from gankit.report import write_report, compare          # doctest: +SKIP
>>> write_report("runs/ring")                                 # doctest: +SKIP
PosixPath('runs/ring/report.html')
"""
from __future__ import annotations

import datetime as _dt
import os
from pathlib import Path
from typing import Any, Sequence

from ..types import schema
from . import html as H
from .rundir import Run, flatten, is_score, load_run

__all__ = ["write_report", "compare", "render_animation", "load_run", "eval_table"]

MAX_THUMBS = 16
ANIMATION_FILES = ("animation.gif", "animation_last.png", "animation.mp4")


def _write_atomic(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _loss_name(run: Run) -> str:
    """The adversarial loss (what D's field means in toy pictures); a VAE's field is its ELBO."""
    return "elbo" if run.task == "vae" else str(run.config.get("loss", {}).get("name", ""))


def render_animation(run_dir: str | Path, force: bool = False) -> list[Path]:
    """Toy runs: RUN/animation.gif (+ .mp4 when ffmpeg is on PATH) and its last frame RUN/animation_last.png.

    Returns the animation files; [] when the run has no snapshots (image runs). Files newer than every
    snapshot are kept as they are unless ``force`` (rendering takes a few seconds per 60 frames).
    """
    from .toy import render_frames, write_gif, write_mp4

    run = load_run(run_dir)
    if not run.snapshots:
        return []
    existing = [run.path / f for f in ANIMATION_FILES if (run.path / f).is_file()]
    newest = max(p.stat().st_mtime for _, p in run.snapshots)
    if not force and len(existing) >= 2 and all(p.stat().st_mtime >= newest for p in existing):
        return existing
    frames = render_frames(run.snapshots, _loss_name(run), str(run.config.get("data", {}).get("name", "")))
    gif, last = run.path / ANIMATION_FILES[0], run.path / ANIMATION_FILES[1]
    written = [write_gif(frames, gif)]
    tmp = last.with_name(f".{last.stem}.tmp.png")
    frames[-1].save(tmp, format="PNG")
    os.replace(tmp, last)
    written.append(last)
    mp4 = write_mp4(frames, run.path / ANIMATION_FILES[2])
    if mp4 is None:  # no ffmpeg here: an older MP4 would show another training
        (run.path / ANIMATION_FILES[2]).unlink(missing_ok=True)
    return written + ([mp4] if mp4 else [])


# --------------------------------------------------------------------------- sections

def _config_section(run: Run) -> str:
    cards = []
    top = {k: v for k, v in run.config.items() if not isinstance(v, dict)}
    if top:
        cards.append(H.kv_table(top, "run"))
    for name, values in run.config.items():
        if isinstance(values, dict):
            cards.append(H.kv_table(flatten(values), name))
    path = H.esc(run.path / "config.json")
    return (f'<p class="note">Resolved config (<code>{path}</code>); re-create the run with '
            f"<code>gankit train --config {path}</code>.</p><div class=\"cards\">{''.join(cards)}</div>")


def _samples_section(run: Run) -> str:
    if schema(run.schema).render == "table":  # samples are CSV rows, not pictures
        from .tables import samples_body

        return _guarded(samples_body, run)
    if not run.samples:
        return H.note("No sample pictures in samples/ yet.")
    step, final = run.samples[-1]
    body = [f"<h3>final samples (step {step})</h3>", H.img(final.read_bytes(), f"samples at step {step}", "final")]
    shown = run.samples
    if len(shown) > MAX_THUMBS:  # evenly spaced, always the first and the last
        idx = sorted({round(i * (len(shown) - 1) / (MAX_THUMBS - 1)) for i in range(MAX_THUMBS)})
        shown = [shown[i] for i in idx]
    if len(run.samples) > 1:
        body.append(f"<h3>over training ({len(shown)} of {len(run.samples)} pictures, fixed noise)</h3>")
        body.append('<div class="strip">' + "".join(H.figure(p.read_bytes(), f"step {s}") for s, p in shown) + "</div>")
    return "\n".join(body)


#: what each task's logged statistics mean, under the curves
CURVE_NOTES = {
    "gan": "D's raw output is a logit for minimax/nsgan: D(x) = sigmoid(raw); accuracy counts real scored > 0 and fake < 0.",
    "vae": "elbo, recon and kl are nats per sample (elbo = recon − kl).",
    "ctgan": "loss_d is the critic's Wasserstein loss −(E D(real) − E D(fake)) (wasserstein = its negative), gp the gradient "
             "penalty per pack, cond_ce G's cross-entropy on the conditioned column; rows count as images in img_s.",
    "tvae": "loss = tvae.loss_factor · recon + kl, per row (recon: Gaussian on α and cross-entropy on one-hot parts); rows "
            "count as images in img_s.",
    "superres": "psnr is G's training-batch PSNR in dB on RGB ([-1, 1] range, no crop; the evaluation's psnr_y is the papers' Y-channel "
                "value with a border crop); pixel, content and adv are G's loss terms, loss_d D's (from the end of sr.pretrain on).",
    "inpaint": "rec is the squared (or absolute) error over the hole; adv G's adversarial term, loss_d D's.",
}


def _curves_section(runs: Sequence[tuple[str, Run]]) -> str:
    from .plots import curves_png

    png = curves_png(runs)
    if png is None:
        return H.note("No log records in metrics.jsonl yet.")
    events = ("Dashed vertical lines: health events, rollbacks, early stops and other events, in the colour of "
              "their run." if len(runs) > 1 else "Dashed vertical lines: health events (orange), rollbacks "
              "(red), early stop (black), resumes (green), other events (purple).")
    what = " ".join(dict.fromkeys(CURVE_NOTES.get(r.task, "") for _, r in runs))
    return (H.img(png, "training curves") +
            H.note(f"Training statistics are means over each log interval; evaluations (right) are single "
                   f"measurements. {events} {what}"))


def _event_details(e: dict[str, Any]) -> str:
    """The event's message first (when it has one), then every other field as key=value."""
    rest = "; ".join(f"{k}={H.fmt(v)}" for k, v in flatten(e).items() if k not in ("event", "time", "step", "message"))
    return f"{e['message']} — {rest}" if e.get("message") else rest


def _health_section(run: Run) -> str:
    events = run.other_events()
    if not events:
        return H.note("No health events, rollbacks or early stops were recorded in this run.")
    counts: dict[str, int] = {}
    for e in events:
        counts[e["event"]] = counts.get(e["event"], 0) + 1
    summary = ", ".join(f"{n} × {k}" for k, n in counts.items())
    rows = [(e.get("step", ""), e["event"], _event_details(e)) for e in events]
    return H.note(summary) + H.table(["step", "event", "details"], rows)


def eval_table(run: Run) -> tuple[list[str], list[list[Any]]]:
    """(headers, rows) of every ``eval`` event: step, every score (float field), and the rest as provenance text."""
    evals = run.of("eval")
    flat = [flatten(e) for e in evals]
    metrics = list(dict.fromkeys(k for f in flat for k, v in f.items() if is_score(k, v)))
    rows = []
    for e, f in zip(evals, flat):
        prov = "; ".join(f"{k.removeprefix('provenance.')}={H.fmt(v)}" for k, v in f.items()
                         if k not in metrics and k not in ("event", "time", "step"))
        rows.append([e.get("step", "")] + [f.get(m, "") for m in metrics] + [prov])
    return ["step", *metrics, "provenance"], rows


def _eval_section(run: Run) -> str:
    headers, rows = eval_table(run)
    if not rows:
        return H.note(f"No evaluations recorded. Evaluate with: gankit evaluate {run.path} --metrics ... "
                      "(or set eval.metrics for evaluation during training).")
    provenance = {r[-1] for r in rows}
    if len(provenance) == 1:  # the same for every row: say it once
        return H.table(headers[:-1], [r[:-1] for r in rows]) + H.note(f"Provenance (every row): {provenance.pop()}")
    return H.table(headers, rows)


def _timing_section(runs: Sequence[tuple[str, Run]]) -> str:
    from .plots import throughput_png

    keys = ("source", "step", "d_updates", "images_seen", "wall_s", "mean_img_s", "last_img_s", "device",
            "resumes", "rollbacks", "early_stopped", "interrupted")
    if len(runs) == 1:
        t = runs[0][1].timing()
        shown = {k: t[k] for k in keys if k in t} | {k: v for k, v in t.items() if k.startswith("params_")}
        body = H.kv_table(shown) if t else H.note("No timing recorded yet.")
    else:
        timings = [(label, r.timing()) for label, r in runs]
        params = list(dict.fromkeys(k for _, t in timings for k in t if k.startswith("params_")))
        cols = ("step", "images_seen", "wall_s", "mean_img_s", "device", *params, "rollbacks", "early_stopped")
        body = H.table(["run", *cols], [[label, *(t.get(k, "") for k in cols)] for label, t in timings])
    png = throughput_png(runs)
    return body + (H.img(png, "images per second", "") if png else "") + H.note(
        "wall_s: seconds in the training loop (all resumed segments); images/s counts real images shown to D.")


def _animation_section(run: Run) -> str:
    try:
        files = render_animation(run.path)
    except Exception as e:  # noqa: BLE001 - one broken panel must not cost the whole report
        return H.note(f"animation not rendered: {type(e).__name__}: {e}")
    if not files:
        return H.note("No snapshots in snapshots/ (they are recorded during training of toy runs).")
    gif, last = files[0], files[1]
    names = ", ".join(f.name for f in files)
    shape = run.data_info.get("shape") or ([1] if run.config.get("data", {}).get("name") == "mog1d" else [2])
    loss = _loss_name(run)
    level = {"minimax": "D(x) = 1/2", "nsgan": "D(x) = 1/2", "lsgan": "score 1/2"}.get(loss, "score 0")
    if loss == "elbo":
        what = ("The model's samples (black dots, fixed latents) over its ELBO of each point (colours: where the VAE puts "
                "its density), true modes as green rings.")
    elif shape[0] >= 2:
        what = (f"G's samples (black dots, fixed noise) over D's decision surface (colours; dashed line: {level}), "
                "true modes as green rings.")
    elif loss in ("minimax", "nsgan", "lsgan"):
        what = ("True density (green), G's histogram and KDE (blue), D(x) (red) and the optimal discriminator "
                "D*(x) = p_data / (p_data + p_g) for the current G (dotted; drawn where the densities have mass). "
                "A perfectly trained D equals D*; at the equilibrium p_g = p_data both are 1/2 everywhere.")
    else:
        what = f"True density (green), G's histogram and KDE (blue) and the critic's score (red; {loss} has no D*)."
    return (H.note(f"{what} Files written: {names} in {run.path}.") + '<div class="strip">' +
            H.figure(gif.read_bytes(), "over training (GIF, loops)", "anim", "image/gif") +
            H.figure(last.read_bytes(), "last frame", "anim") + "</div>")


def _guarded(body: Any, run: Run) -> str:
    """``body(run)``, or a one-line note when it fails: one broken panel must not cost the whole report."""
    try:
        return body(run)
    except Exception as e:  # noqa: BLE001 - e.g. the table's data.path is not on this machine
        return H.note(f"not rendered: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")


def _columns_section(run: Run) -> tuple[str, str, str]:
    from .tables import columns_body

    return H.section("columns", "columns: real vs synthetic", _guarded(columns_body, run))


def _image_sections(run: Run) -> list[tuple[str, str, str]]:
    """Interpolation, per-class grid (conditional) and nearest neighbours, from RUN/generator's pipeline."""
    from ..errors import GankitError
    from ..tasks import load_pipeline

    try:
        G = load_pipeline(run.path)
    except GankitError as e:
        msg = H.note(f"no generator to sample from: {e}")
        return [H.section("interpolation", "latent interpolation", msg), H.section("nearest", "nearest training images", msg)]
    from .images import class_grid_png, interpolation_png, nearest_png

    out = []
    try:
        out.append(H.section("interpolation", "latent interpolation", H.img(interpolation_png(G), "interpolations", "wide pixel") +
                             H.note("Each row: spherical interpolation (slerp) between two fixed latents, through the "
                                    "averaged network (G_ema; a VAE's decoder means).")))
    except Exception as e:  # noqa: BLE001
        out.append(H.section("interpolation", "latent interpolation", H.note(f"not rendered: {type(e).__name__}: {e}")))
    if getattr(G, "c_dim", 0):
        names = list(G.gankit_meta.get("data", {}).get("class_names") or [])
        try:
            body = H.img(class_grid_png(G, names), "samples per class", "") + H.note("Rows: classes; columns: one fixed z each.")
        except Exception as e:  # noqa: BLE001
            body = H.note(f"not rendered: {type(e).__name__}: {e}")
        out.append(H.section("classes", "samples per class", body))
    out.append(H.section("nearest", "nearest training images", _nearest_body(run, G)))
    return out


def _nearest_body(run: Run, G: Any) -> str:
    from ..config import load_file
    from ..data import build_dataset
    from .images import nearest_png

    try:
        data = build_dataset(load_file(run.path / "config.json").data)
        if getattr(data, "images", None) is None:
            return H.note("The training data streams from disk; the nearest-neighbour check needs it in memory.")
        png, stats = nearest_png(G, data)
    except Exception as e:  # noqa: BLE001 - e.g. the data path is not on this machine
        return H.note(f"not rendered: {type(e).__name__}: {e}")
    return (H.img(png, "generated samples and nearest training images", "") +
            H.note(f"Left: generated; right: the nearest training images in pixel space (L2 on [-1, 1] values). "
                   f"Median distance to the nearest training image: generated {stats['median_gen_to_train']:.3g}, "
                   f"training image to another training image {stats['median_train_to_train']:.3g}; "
                   "generated samples far closer than that suggest memorization."))


# --------------------------------------------------------------------------- public

def _subtitle(run: Run) -> str:
    c = run.config
    t = run.timing()
    parts = [f"data {c.get('data', {}).get('name', '?')}", f"model {c.get('model', {}).get('name', '?')}",
             f"loss {c.get('loss', {}).get('name', '?')}" if run.task == "gan" else f"task {run.task}",
             f"{t.get('step', 0)} of {c.get('train', {}).get('steps', '?')} steps",
             f"run {run.path}", f"written {_dt.datetime.now():%Y-%m-%d %H:%M}"]
    if c.get("description"):
        parts.insert(0, str(c["description"]))
    return " · ".join(parts)


def write_report(run_dir: str | Path) -> Path:
    """Write RUN/report.html (self-contained) and, for toy runs, the animation files; returns the HTML path."""
    run = load_run(run_dir)
    pair = [(run.name, run)]
    # What a user opens the report for first: samples, evaluations, curves, health; the configuration last.
    sections = [H.section("samples", "samples", _samples_section(run)),
                H.section("evaluation", "evaluation", _eval_section(run)),
                H.section("curves", "training curves", _curves_section(pair)),
                H.section("health", "health, rollbacks, early stopping", _health_section(run))]
    panels = schema(run.schema).report  # what the data's schema adds: the toy animation, the image or table panels
    if "animation" in panels:
        sections.append(H.section("animation", "training animation", _animation_section(run)))
    if {"interpolation", "nearest"} & set(panels):
        sections += _image_sections(run)
    if "columns" in panels:
        sections.append(_columns_section(run))
    if "pairs" in panels:
        sections.insert(1, H.section("pairs", "how to read the restoration samples", H.note(
            "Each row of a sample picture is one fixed held-out test patch: the input (upsampled by pixel repetition for "
            "super-resolution; the holed patch for inpainting), the model's output, and the original. The same patches "
            "at every step, so the pictures show training progress on data the model never saw; the evaluation "
            "section scores many more of them (gankit evaluate RUN --metrics restoration,hole,fid).")))
    if "translations" in panels:
        sections.insert(1, H.section("translations", "how to read the translation samples", H.note(
            "Each row of a sample picture is one fixed held-out test image and what the model makes of it: pix2pix — "
            "input, output, the true target; CycleGAN — a, G_AB(a), G_BA(G_AB(a)), then b, G_BA(b), G_AB(G_BA(b)); "
            "StarGAN — input, the translation to a random other domain, and the way back to its own. The evaluation "
            "section scores all of them with frozen domain and content classifiers (gankit evaluate RUN --metrics "
            "translation; docs/translation.md).")))
    if "molecules" in panels:
        from .molecules import molecules_body

        sections.append(H.section("molecules", "molecules: training vs generated", _guarded(molecules_body, run)))
    sections += [H.section("timing", "wall time and throughput", _timing_section(pair)),
                 H.section("config", "configuration", _config_section(run))]
    title = f"gankit report — {run.config.get('name') or run.name}"
    return _write_atomic(run.path / "report.html", H.page(title, _subtitle(run), sections))


def _labels(runs: Sequence[Run]) -> list[str]:
    names = [r.name for r in runs]
    return [str(r.path) if names.count(r.name) > 1 else r.name for r in runs]


def _table_head(label: str, run: Run, n: int = 5) -> str:
    """A table run's entry among compare's final samples: the first ``n`` rows of its latest samples CSV."""
    from .tables import head_table

    if not run.tables:
        return H.note(f"{label}: no samples")
    step, path = run.tables[-1]
    try:
        table, total = head_table(path, n)
    except Exception as e:  # noqa: BLE001
        return H.note(f"{label}: samples not read: {type(e).__name__}: {e}")
    return (f'<div class="rows"><h3>{H.esc(label)} — step {step}</h3>{table}'
            f"{H.note(f'first {min(n, total)} of {total} rows of {path.name}')}</div>")


def compare(run_dirs: Sequence[str | Path], out: str | Path) -> Path:
    """Write one HTML page comparing runs: summary table, curves on the same axes, final samples side by side
    (pictures; for table runs the first rows of the latest samples CSV)."""
    from ..errors import ConfigError

    if not run_dirs:
        raise ConfigError("compare: give at least one run directory")
    runs = [load_run(d) for d in run_dirs]
    pairs = list(zip(_labels(runs), runs))
    rows = []
    for label, r in pairs:
        c, t = r.config, r.timing()
        last_eval = {k: v[1][-1] for k, v in r.series("eval").items()}
        rows.append([label, c.get("data", {}).get("name", ""), c.get("model", {}).get("name", ""),
                     c.get("loss", {}).get("name", "") if r.task == "gan" else r.task, t.get("step", ""), t.get("wall_s", ""),
                     t.get("mean_img_s", ""), "; ".join(f"{k}={H.fmt(v)}" for k, v in last_eval.items())])
    summary = H.table(["run", "data", "model", "loss / task", "steps", "wall_s", "images/s", "last evaluation"], rows)
    figs = []
    for label, r in pairs:
        if schema(r.schema).render == "table":
            figs.append(_table_head(label, r))
        elif r.samples:
            s, p = r.samples[-1]
            figs.append(H.figure(p.read_bytes(), f"{label} — step {s}", "side"))
        else:
            figs.append(H.note(f"{label}: no samples"))
    sections = [H.section("runs", "runs", summary + H.note(", ".join(str(r.path) for r in runs))),
                H.section("curves", "training curves", _curves_section(pairs)),
                H.section("samples", "final samples", '<div class="strip">' + "".join(figs) + "</div>"),
                H.section("timing", "wall time and throughput", _timing_section(pairs))]
    title = "gankit compare — " + ", ".join(label for label, _ in pairs)
    subtitle = f"{len(runs)} runs · written {_dt.datetime.now():%Y-%m-%d %H:%M}"
    return _write_atomic(Path(out), H.page(title, subtitle, sections))
