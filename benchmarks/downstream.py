"""GANs as data for other models, measured side by side (issue 19), written to docs/benchmarks/downstream.md.

**Few labels (digits, 16×16).** For k ∈ {1, 5, 10, all} labelled training images per class (chosen by the seed) and
each seed, the same fixed classifier (gankit.downstream.CLASSIFIER: SmallCNN, 600 Adam updates of 64) is trained on

* ``real``: the k·10 labelled images;
* ``real + classical``: the same with shifts, small rotations and elastic distortions (gankit.downstream.CLASSICAL);
* ``real + cGAN``: half of every batch from 200 samples per class of the conditional DCGAN (projection D) trained on the
  labelled images alone (preset digits-cond at 16×16);
* ``real + AC-GAN``: the same with AC-GAN trained on the labelled images and every unlabelled one (preset acgan-digits);
* ``real + AC-GAN, filtered``: AC-GAN samples kept only where a classifier trained on the real labelled images (with
  classical augmentation) agrees with their class;
* ``real + classical + AC-GAN``: both;

and ``SSGAN D``: the semi-supervised GAN's discriminator as the classifier (preset ssgan-digits, same labels). All are
scored on the 359 test digits. ``all`` is the full-data ceiling (every label; the GANs then train on all 1,438 images).
The generated sets' *label agreement* (the fraction digits-cnn, a frozen classifier trained on every training label,
assigns to the class they were drawn for) says how usable the samples are.

**Domain adaptation (digits → digits-m).** Target test accuracy of the task classifier trained on source images
alone (the lower bound), PixelDA's T (preset pixelda) and the classifier trained on labelled target images (the upper
bound), 3 seeds.

Cells are independent and run in ``--jobs`` processes (one thread each); finished cells are kept in the rows file and
skipped on a rerun, so the script can be stopped and continued.

**Tables.** The same few-label protocol on scikit-learn's wine and breast-cancer tables: logistic regression on k
labelled rows per class alone, with SMOTE-style interpolation, or with CTGAN rows of each class.

    python benchmarks/downstream.py [--seeds 5] [--jobs 2] [--part few|da|tables|all] [--from-rows]
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "benchmarks" / "rows" / "downstream.jsonl"
PAGE = ROOT / "docs" / "benchmarks" / "downstream.md"
from common import QUIET  # noqa: E402
KS = [1, 5, 10, 0]  # 0: every label
PER_CLASS = 200  # generated images per class
ARMS = ["real", "real + classical", "real + cGAN", "real + AC-GAN", "real + AC-GAN, filtered", "real + classical + AC-GAN", "SSGAN D"]
DA_ARMS = ["source only", "PixelDA", "target trained"]
ANCHORS = [
    ("DAGAN (Antoniou et al. 2017)", "Omniglot / EMNIST few-shot classifiers", "69 % → 82 % / 73.9 % → 76 % with DAGAN samples "
     "(no classical-augmentation baseline beside them)"),
    ("Improved GAN (Salimans et al. 2016, Table 1)", "MNIST, 100 labels (permutation-invariant)", "93 ± 6.5 test errors of "
     "10,000 (0.93 %) with feature matching; ladder networks 106 ± 37"),
    ("PixelDA (Bousmalis et al. 2017, Table 1)", "MNIST → MNIST-M target accuracy", "source only 63.6 % · DANN 77.4 % · "
     "PixelDA 98.2 %"),
]


def k_label(k: int) -> str:
    return "all" if k == 0 else str(k)


def _last_event(run: Path, event: str) -> dict:
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["event"] == event][-1]


def few_cell(k: int, seed: int, runs: Path) -> list[dict]:
    """Every arm of one (k, seed) cell."""
    import torch

    from common import train_kept
    from gankit import api, downstream as ds
    from gankit.data.images import few_labels, load_digits, to_float
    from gankit.metrics.digits_cnn import load_digits_cnn, prepare

    torch.set_num_threads(1)
    train, test = load_digits(16, 1, "train"), load_digits(16, 1, "test")
    xt, yt = to_float(test.images), test.labels
    lab = few_labels(train, k, seed) if k else train
    x, y = to_float(lab.images), lab.labels
    few = [f"data.labels_per_class={k}", f"data.label_seed={seed}"] if k else ["data.labels_per_class=0", "data.unlabelled=false"]
    common = [*QUIET, f"train.seed={seed}", *few]
    rows: list[dict] = []

    def row(arm: str, acc: float, **extra: float) -> None:
        rows.append({"part": "few", "k": k, "seed": seed, "arm": arm, "acc": acc, **extra})

    t0 = time.perf_counter()
    row("real", ds.accuracy(ds.train_classifier(x, y, 10, seed=seed), xt, yt), s=time.perf_counter() - t0)
    t0 = time.perf_counter()
    row("real + classical", ds.accuracy(ds.train_classifier(x, y, 10, augment=True, seed=seed), xt, yt), s=time.perf_counter() - t0)

    cnn, _ = load_digits_cnn()

    def agreement(xs: torch.Tensor, ys: torch.Tensor) -> float:
        with torch.no_grad():
            return float((cnn(prepare(xs))[1].argmax(1) == ys).float().mean())

    def spread(xs: torch.Tensor, ys: torch.Tensor) -> float:
        """Mean pairwise distance between digits-cnn features of images of the same class, averaged over classes."""
        with torch.no_grad():
            f = cnn(prepare(xs))[0]
        return statistics.mean(float(torch.cdist(f[ys == c], f[ys == c]).mean()) for c in range(10) if (ys == c).sum() > 1)

    real_spread = spread(to_float(train.images), train.labels)

    tag = f"k{k_label(k)}-s{seed}"
    cgan_s = train_kept("digits-cond", runs / f"cgan-{tag}", [*common, "data.resolution=16", "model.g_width=32", "model.d_width=32",
                                                               "train.steps=1500", f"train.batch_size={min(64, 10 * k) if k else 64}"],
                        reuse=True)
    xs, ys = ds.synthesize(api.load(runs / f"cgan-{tag}"), PER_CLASS, seed=seed)
    row("real + cGAN", ds.accuracy(ds.train_classifier(x, y, 10, extra=(xs, ys), seed=seed), xt, yt), gan_s=cgan_s,
        agree=agreement(xs, ys), spread=spread(xs, ys) / real_spread)

    ac_run = runs / f"acgan-{tag}"
    ac_s = train_kept("acgan-digits", ac_run, common, reuse=True)
    pipe = api.load(ac_run)
    xs, ys = ds.synthesize(pipe, PER_CLASS, seed=seed)
    agree, spr = agreement(xs, ys), spread(xs, ys) / real_spread
    row("real + AC-GAN", ds.accuracy(ds.train_classifier(x, y, 10, extra=(xs, ys), seed=seed), xt, yt), gan_s=ac_s, agree=agree,
        spread=spr)
    row("real + classical + AC-GAN", ds.accuracy(ds.train_classifier(x, y, 10, extra=(xs, ys), augment=True, seed=seed), xt, yt),
        gan_s=ac_s, agree=agree)
    keep = ds.train_classifier(x, y, 10, augment=True, seed=seed)
    xf, yf = ds.synthesize(pipe, PER_CLASS, seed=seed, keep=keep)
    row("real + AC-GAN, filtered", ds.accuracy(ds.train_classifier(x, y, 10, extra=(xf, yf), seed=seed), xt, yt), gan_s=ac_s,
        agree=agreement(xf, yf), spread=spread(xf, yf) / real_spread, filled=len(yf) / (10 * PER_CLASS))

    ss_run = runs / f"ssgan-{tag}"
    ss_s = train_kept("ssgan-digits", ss_run, common, reuse=True)
    row("SSGAN D", _last_event(ss_run, "classify")["test_acc"], gan_s=ss_s)
    return rows


def da_cell(seed: int, runs: Path) -> list[dict]:
    """Source only, PixelDA and target trained, one seed (target test accuracy)."""
    import torch

    from common import train_kept
    from gankit.data.domains import offline
    from gankit.data.images import to_float
    from gankit import downstream as ds
    from gankit.models.pixelda import TaskClassifier

    torch.set_num_threads(1)
    train, test = offline("digits-m", "train", 32, 3), offline("digits-m", "test", 32, 3)
    xt, yt = to_float(test.b), test.label_b

    def bound(x: torch.Tensor, y: torch.Tensor) -> float:
        net = ds.train_classifier(x, y, 10, seed=seed, network=lambda: TaskClassifier(3, 32, 10))
        return ds.accuracy(net, xt, yt)

    rows = [{"part": "da", "seed": seed, "arm": "source only", "acc": bound(to_float(train.a), train.label_a)}]
    run = runs / f"pixelda-s{seed}"
    s = train_kept("pixelda", run, [*QUIET, f"train.seed={seed}"], reuse=True)
    rows.append({"part": "da", "seed": seed, "arm": "PixelDA", "acc": _last_event(run, "classify")["target_acc"], "gan_s": s})
    rows.append({"part": "da", "seed": seed, "arm": "target trained", "acc": bound(to_float(train.b), train.label_b)})
    return rows


TABLES = ["wine", "breast-cancer"]
TABLE_KS = [5, 10, 20, 0]
TABLE_ARMS = ["real", "real + interpolation", "real + CTGAN"]
TABLE_PER_CLASS = 100


def table_cell(table: str, k: int, seed: int, runs: Path) -> list[dict]:
    """The few-label protocol on a bundled table: logistic regression on the standardized features, trained on k
    labelled rows per class (all: the whole train split) alone, with SMOTE-style interpolation between rows of a class
    (the tables' classical augmentation; Chawla et al. 2002), or with CTGAN rows sampled conditionally on the class
    (CTGAN trained on the same labelled rows, 300 epochs)."""
    import numpy as np
    import pandas as pd
    import torch
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    from gankit.config import data_config
    from gankit.data.tables.data import table_frame
    from gankit.tables import CTGAN

    torch.set_num_threads(1)
    cfg = data_config({"name": "table", "table": table})
    train, _, _, target, _ = table_frame(cfg, "train")
    test = table_frame(cfg, "test")[0]
    rng = np.random.default_rng(seed)
    classes = sorted(train[target].unique())
    if k:
        train = pd.concat([train[train[target] == c].iloc[rng.permutation((train[target] == c).sum())[:k]] for c in classes])
    features = [c for c in train.columns if c != target]

    def score(frame: pd.DataFrame) -> float:
        scaler = StandardScaler().fit(frame[features].to_numpy(float))
        model = LogisticRegression(max_iter=5000).fit(scaler.transform(frame[features].to_numpy(float)), frame[target])
        return float(model.score(scaler.transform(test[features].to_numpy(float)), test[target]))

    rows = [{"part": "table", "table": table, "k": k, "seed": seed, "arm": "real", "acc": score(train)}]
    interp = []
    for c in classes:  # x_i + u·(x_j − x_i), i, j rows of class c, u ~ U(0, 1)
        block = train[train[target] == c][features].to_numpy(float)
        i, j = rng.integers(len(block), size=TABLE_PER_CLASS), rng.integers(len(block), size=TABLE_PER_CLASS)
        new = block[i] + rng.random((TABLE_PER_CLASS, 1)) * (block[j] - block[i])
        interp.append(pd.DataFrame(new, columns=features).assign(**{target: c}))
    rows.append({"part": "table", "table": table, "k": k, "seed": seed, "arm": "real + interpolation",
                 "acc": score(pd.concat([train, *interp], ignore_index=True))})
    t0 = time.perf_counter()
    out = runs / f"ctgan-{table}-k{k_label(k)}-s{seed}"
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    model = CTGAN(epochs=300, seed=seed, out=out).fit(train.reset_index(drop=True), target=target)
    synth = [model.sample(TABLE_PER_CLASS, condition={target: c}, seed=seed) for c in classes]
    rows.append({"part": "table", "table": table, "k": k, "seed": seed, "arm": "real + CTGAN",
                 "acc": score(pd.concat([train, *synth], ignore_index=True)), "gan_s": time.perf_counter() - t0})
    return rows


def _fmt(values: list[float]) -> str:
    if not values:
        return "—"
    m = statistics.mean(values) * 100
    return f"{m:.1f} ± {statistics.stdev(values) * 100:.1f}" if len(values) > 1 else f"{m:.1f}"


def write_page(meta: dict, rows: list[dict]) -> None:
    few = [r for r in rows if r["part"] == "few"]
    seeds = sorted({r["seed"] for r in few})
    lines = ["# GANs as data for other models", "",
             f"Written by `benchmarks/downstream.py` on {meta['date']} ({meta['machine']}; torch {meta['torch']}). "
             "Method and protocol: [docs/downstream.md](../downstream.md).", "",
             "## Few labels: digits, 16×16", "",
             f"Test accuracy (%) on the 359 test digits, mean ± std over {len(seeds)} seeds (the seed picks the labelled images and "
             "seeds every network). k = labelled training images per class; `all` = every one of the 1,438 training labels (the "
             "ceiling). The downstream classifier is the same in every row (SmallCNN, 600 Adam updates of 64 images); GAN rows mix "
             f"half of every batch from {PER_CLASS} generated images per class.", "",
             "| arm | " + " | ".join(f"k = {k_label(k)}" for k in KS) + " |", "|---|" + "---:|" * len(KS)]
    for arm in ARMS:
        cells = [_fmt([r["acc"] for r in few if r["arm"] == arm and r["k"] == k]) for k in KS]
        lines.append(f"| {arm} | " + " | ".join(cells) + " |")
    lines += ["", "Label agreement of the generated sets (%: digits-cnn, trained on every training label, assigns the class they "
              "were drawn for) and GAN training time (s, one thread):", "",
              "| generator | " + " | ".join(f"k = {k_label(k)}" for k in KS) + " | train s |", "|---|" + "---:|" * (len(KS) + 1)]
    gens = (("real + cGAN", "conditional DCGAN (labelled only)"), ("real + AC-GAN", "AC-GAN (+ unlabelled)"),
            ("real + AC-GAN, filtered", "AC-GAN, filtered"))
    for arm, label in gens:
        cells = [_fmt([r["agree"] for r in few if r["arm"] == arm and r["k"] == k]) for k in KS]
        secs = [r["gan_s"] for r in few if r["arm"] == arm]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {statistics.mean(secs):.0f} |" if secs else f"| {label} | — |")
    lines += ["", "Within-class diversity of the generated sets: the mean pairwise distance between digits-cnn features of images "
              "of the same class, as a percentage of the same for the 1,438 real training digits (100 %: as varied as the data):", "",
              "| generator | " + " | ".join(f"k = {k_label(k)}" for k in KS) + " |", "|---|" + "---:|" * len(KS)]
    for arm, label in gens:
        lines.append(f"| {label} | " + " | ".join(_fmt([r["spread"] for r in few if r["arm"] == arm and r["k"] == k and "spread" in r])
                                                    for k in KS) + " |")
    filled = [r["filled"] for r in few if r["arm"] == "real + AC-GAN, filtered"]
    if filled:
        lines += ["", f"The filtered sets hold {statistics.mean(filled) * 100:.0f} % of the {PER_CLASS} samples per class asked for "
                  "on average (the filter draws again, up to 20 rounds, where it refuses samples)."]
    lines += ["", "### What the numbers say", ""]
    samples = ("real + cGAN", "real + AC-GAN", "real + AC-GAN, filtered", "real + classical + AC-GAN")
    for k in KS:
        def mean(arm: str) -> float | None:
            v = [r["acc"] for r in few if r["arm"] == arm and r["k"] == k]
            return statistics.mean(v) if v else None

        def verdict(arm: str, other: str) -> str:
            """The paired comparison over seeds (the same labelled images): mean gain in points and seeds won."""
            a = {r["seed"]: r["acc"] for r in few if r["arm"] == arm and r["k"] == k}
            b = {r["seed"]: r["acc"] for r in few if r["arm"] == other and r["k"] == k}
            d = [a[s] - b[s] for s in sorted(a) if s in b]
            return f"{statistics.mean(d) * 100:+.1f} points, better on {sum(x > 0 for x in d)} of {len(d)} seeds"

        base, cls, ssl = mean("real"), mean("real + classical"), mean("SSGAN D")
        gans = {a: mean(a) for a in samples if mean(a) is not None}
        if base is None or cls is None or not gans:
            continue
        plain = "real + classical" if cls >= base else "real"
        plain_name = "classical augmentation" if cls >= base else "the real images alone"
        best_gan = max(gans, key=gans.get)
        text = (f"- k = {k_label(k)}: real alone {base * 100:.1f} %, classical augmentation {cls * 100:.1f} %. Against "
                f"{plain_name}, the best arm with generated images ({best_gan}, {gans[best_gan] * 100:.1f} %): "
                f"{verdict(best_gan, plain)}")
        if ssl is not None:
            text += f"; the semi-supervised D ({ssl * 100:.1f} %): {verdict('SSGAN D', plain)}"
        lines.append(text + ".")
    da = [r for r in rows if r["part"] == "da"]
    if da:
        lines += ["", "## Domain adaptation: digits → digits-m", "",
                  f"Target test accuracy (%), mean ± std over {len({r['seed'] for r in da})} seeds. digits-m is built like MNIST-M "
                  "(each digit blended over a photo patch by |patch − digit|); target labels are used only to score, and by the "
                  "upper bound.", "", "| arm | target accuracy | train s |", "|---|---:|---:|"]
        for arm in DA_ARMS:
            v = [r for r in da if r["arm"] == arm]
            secs = [r["gan_s"] for r in v if "gan_s" in r]
            lines.append(f"| {arm} | {_fmt([r['acc'] for r in v])} | {statistics.mean(secs):.0f} |" if secs else
                         f"| {arm} | {_fmt([r['acc'] for r in v])} | — |")
        lines += ["", "The bounds train the same T (Ganin & Lempitsky's MNIST network) with the downstream protocol's recipe (600 "
                  "Adam updates of 64 images); PixelDA's T trains 800 steps on a source batch and its adapted copy (64 images), "
                  "which is how it can end above the target-trained bound here."]
    tab = [r for r in rows if r["part"] == "table"]
    if tab:
        lines += ["", "## Few labels: scikit-learn's bundled tables", "",
                  f"Test accuracy (%) of logistic regression on the standardized features (the table's fixed 20 % test split), mean ± "
                  f"std over {len({r['seed'] for r in tab})} seeds; k labelled training rows per class. Interpolation: "
                  f"{TABLE_PER_CLASS} rows per class on segments between two rows of the class (SMOTE's rule, Chawla et al. 2002), "
                  f"the tables' classical augmentation. CTGAN: {TABLE_PER_CLASS} rows per class sampled with the class as "
                  "condition, from CTGAN (300 epochs) trained on the same labelled rows.", ""]
        for table in TABLES:
            lines += [f"**{table}**", "", "| arm | " + " | ".join(f"k = {k_label(k)}" for k in TABLE_KS) + " |",
                      "|---|" + "---:|" * len(TABLE_KS)]
            for arm in TABLE_ARMS:
                cells = [_fmt([r["acc"] for r in tab if r["table"] == table and r["arm"] == arm and r["k"] == k]) for k in TABLE_KS]
                lines.append(f"| {arm} | " + " | ".join(cells) + " |")
            lines.append("")
        for table in TABLES:
            def m(arm: str, k: int) -> float:
                return statistics.mean(r["acc"] for r in tab if r["table"] == table and r["arm"] == arm and r["k"] == k)
            gaps = [(m("real + CTGAN", k) - m("real", k)) * 100 for k in TABLE_KS]
            inter = [(m("real + interpolation", k) - m("real", k)) * 100 for k in TABLE_KS]
            lines.append(f"- {table}: CTGAN rows change accuracy by {min(gaps):+.1f} to {max(gaps):+.1f} points against the labelled rows "
                         f"alone (k = {', '.join(k_label(k) for k in TABLE_KS)}); interpolation by {min(inter):+.1f} to {max(inter):+.1f}.")
    lines += ["", "## The papers' numbers, for context", "", "| source | setting | numbers |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in ANCHORS]
    lines += ["", "They are not reproduced here: MNIST, Omniglot and MNIST-M are not shipped (they load from paths users give), "
              "and the bundled digits are 8×8 scans upscaled to 16×16, an easier and much smaller task (1,438 training images).", "",
              "Rerun: `python benchmarks/downstream.py` (about 65 minutes on 2 cores; finished cells are kept in "
              "benchmarks/rows/downstream.jsonl and skipped), `--from-rows` rewrites this page from that file.", ""]
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--da-seeds", type=int, default=3)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--part", choices=("few", "da", "tables", "all"), default="all")
    ap.add_argument("--runs", type=Path, default=ROOT / "runs" / "bench-downstream")
    ap.add_argument("--from-rows", action="store_true", help="rewrite the page from the rows file without measuring")
    args = ap.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    from common import open_rows, run_cells

    meta, rows = open_rows(ROWS, args.from_rows)
    if not args.from_rows:
        done = {(r["part"], r.get("k"), r["seed"]) for r in rows}
        cells = []
        if args.part in ("few", "all"):
            cells += [("few", k, s) for s in range(args.seeds) for k in KS if ("few", k, s) not in done]
        if args.part in ("da", "all"):
            cells += [("da", None, s) for s in range(args.da_seeds) if ("da", None, s) not in done]
        if args.part in ("tables", "all"):
            done_t = {(r["table"], r["k"], r["seed"]) for r in rows if r["part"] == "table"}
            cells += [("table", (t, k), s) for s in range(args.seeds) for t in TABLES for k in TABLE_KS if (t, k, s) not in done_t]
        args.runs.mkdir(parents=True, exist_ok=True)
        fns = {"few": lambda k, s: (few_cell, (k, s, args.runs)), "da": lambda k, s: (da_cell, (s, args.runs)),
               "table": lambda k, s: (table_cell, (k[0], k[1], s, args.runs))}
        failed = run_cells(args.jobs, {(part, k, s): fns[part](k, s) for part, k, s in cells}, rows, ROWS, meta)
        if failed:
            raise SystemExit(f"{len(failed)} cell(s) failed: {failed}")
    write_page(meta, rows)
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
