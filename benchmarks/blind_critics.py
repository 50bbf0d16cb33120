"""Defect-blind critics (gankit.metrics.blind, ``--metrics c2st-blind``) on generators with planted defects of known size.

Real = the bundled digits' train split (1,438 images, 32×32); "fake" = the test split (359 images) with defects
planted: a brightness shift (+c on every pixel), missing modes (the images of the first k digit classes dropped), a
Gaussian blur (σ pixels, replicate padding) and a checkerboard (±a on alternate pixels), each at a mild and a strong
size, and four pairs of different sizes. Both sides are rounded to 8 bits, as ``gankit evaluate`` does with samples,
and scored in two feature spaces: gankit's ``digits-cnn`` (128-d) and raw pixels (1,024-d). Each set gets
``blind_critics(real, fake, steps=3)`` (covariance removal, the default) and the pairs also the Euclidean removal.

Which defect did a critic find? Each defect's *linear signature* is the first critic direction of the clean test
images against the same images with that defect alone. A pair's critic k carries share_k(d) of defect d's signature:
how far defect d alone moves critic k's score over how far it moves its own signature's score (:func:`keyed_on`,
cross-fitted over two halves of the data). Critic k "found" d when share_k(d) >= 0.5. A defect's size is the
held-out accuracy of a linear critic on it alone. The k-NN check: does the pair's k-NN accuracy after critic 1's
removal exceed what the larger defect alone leaves after its own? The page states every rule next to its table.

Writes docs/benchmarks/blind_critics.md and benchmarks/rows/blind-critics.jsonl (a first line of provenance, then one
row per set, feature space and removal). About a minute on one core.

    python benchmarks/blind_critics.py [--seed 0] [--no-rows] [--from-rows benchmarks/rows/blind-critics.jsonl]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

ROOT = Path(__file__).resolve().parents[1]
SIZES = {"shift": {"mild": 0.1, "strong": 0.4}, "blur": {"mild": 0.7, "strong": 1.5},
         "missing": {"mild": 1, "strong": 4}, "checker": {"mild": 0.03, "strong": 0.1}}
UNITS = {"shift": "+{}", "blur": "σ={} px", "missing": "{} class(es) dropped", "checker": "±{}"}
PAIRS = [(("shift", "strong"), ("blur", "mild")), (("blur", "strong"), ("missing", "strong")),
         (("checker", "strong"), ("shift", "mild")), (("missing", "strong"), ("shift", "mild"))]
ORDER = ("missing", "blur", "shift", "checker")  # the order defects are planted in


def label(defects: dict[str, str]) -> str:
    return " + ".join(f"{size} {kind}" for kind, size in defects.items()) or "none (real-vs-real floor)"


def plant(images, labels, defects: dict[str, str]):
    """Test images (N×1×32×32 in [-1, 1]) with the defects planted, rounded to 8 bits."""
    import torch
    import torch.nn.functional as F

    from gankit.data.images import quantize

    x = images
    for kind in ORDER:
        if kind not in defects:
            continue
        v = SIZES[kind][defects[kind]]
        if kind == "missing":
            x = x[labels >= v]
        elif kind == "blur":
            r = int(np.ceil(3 * v))
            t = torch.arange(-r, r + 1, dtype=torch.float32)
            g = torch.exp(-t ** 2 / (2 * v * v))
            g = g / g.sum()
            x = F.pad(x, (r, r, r, r), mode="replicate")
            x = F.conv2d(F.conv2d(x, g.view(1, 1, 1, -1)), g.view(1, 1, -1, 1))
        elif kind == "shift":
            x = x + v
        elif kind == "checker":
            i = torch.arange(x.shape[-1])
            x = x + v * (((i[:, None] + i[None, :]) % 2) * 2 - 1).float()
    return quantize(x)


def response(direction: np.ndarray, real: np.ndarray, clean: np.ndarray, planted: np.ndarray) -> float:
    """How far a defect moves a critic's score: |mean(planted) − mean(clean)| along ``direction``, in sd of real scores.

    ``clean`` are the test images without the defect, ``planted`` the same images with it, so the difference between
    the train and test splits (the floor) cancels out.
    """
    sd = (real @ direction).std()
    return float(abs((planted @ direction).mean() - (clean @ direction).mean()) / sd) if sd > 0 else 0.0


def keyed_on(real: np.ndarray, feats, test_img, test_lab, pair: dict[str, str], seed: int, metric: str) -> dict:
    """The share of each single defect's linear signature that the pair's critics 1 and 2 carry, cross-fitted.

    Real rows and test images are split in two halves. On one half, fit the pair's critic directions (real vs both
    defects planted, 2 steps) and each defect's own direction (a linear critic of the clean test images vs the same
    images with that defect alone: the defect's signature, free of the train/test difference). On the other half,
    measure how far each defect alone moves the score along each direction (:func:`response`).
    share_k(d) = response along pair critic k / response along d's own direction: 1 means critic k reads all of d's
    linear signature, 0 none of it. Both ways round, averaged.
    """
    from gankit.metrics.blind import blind_critics

    rng = np.random.default_rng(seed + 1)
    r_idx, t_idx = rng.permutation(len(real)), rng.permutation(len(test_img))
    halves = [(r_idx[: len(r_idx) // 2], t_idx[: len(t_idx) // 2]), (r_idx[len(r_idx) // 2:], t_idx[len(t_idx) // 2:])]
    share: dict[str, list[np.ndarray]] = {label({k: v}): [] for k, v in pair.items()}
    signature: dict[str, list[float]] = {label({k: v}): [] for k, v in pair.items()}
    for (r_fit, t_fit), (r_ev, t_ev) in (halves, halves[::-1]):
        clean_fit, clean_ev = feats(plant(test_img[t_fit], test_lab[t_fit], {})), feats(plant(test_img[t_ev], test_lab[t_ev], {}))
        critics = blind_critics(real[r_fit], feats(plant(test_img[t_fit], test_lab[t_fit], pair)), steps=2, seed=seed,
                                folds=2, metric=metric)["directions"]
        for kind, size in pair.items():
            single = {kind: size}
            own = blind_critics(clean_fit, feats(plant(test_img[t_fit], test_lab[t_fit], single)), steps=1, seed=seed,
                                folds=2)["directions"][0]
            planted = feats(plant(test_img[t_ev], test_lab[t_ev], single))
            base = response(own, real[r_ev], clean_ev, planted)
            signature[label(single)].append(base)
            share[label(single)].append(np.array([response(u, real[r_ev], clean_ev, planted) for u in critics]) / base)
    return {name: {"share": np.mean(v, axis=0).tolist(), "signature": float(np.mean(signature[name]))}
            for name, v in share.items()}


def where(space: str, idx) -> str:
    """A feature index as the page names it: digits-cnn feature #i, or pixel (row, col)."""
    return f"f{int(idx)}" if space == "digits-cnn" else f"({int(idx) // 32},{int(idx) % 32})"


def run(seed: int) -> tuple[list[dict], dict]:
    import torch

    torch.set_num_threads(1)
    from gankit.data.images import load_digits, to_float
    from gankit.metrics.blind import blind_critics
    from gankit.metrics.features import build_extractor

    train, test = load_digits(32, 1, "train"), load_digits(32, 1, "test")
    real_img = to_float(train.images)
    test_img, test_lab = to_float(test.images), test.labels
    extractor = build_extractor("digits-cnn")
    spaces = {"digits-cnn": lambda x: extractor(x)["features"],
              "pixels": lambda x: x.flatten(1).double().numpy()}
    singles = [{}] + [{kind: size} for kind in SIZES for size in ("mild", "strong")]
    pairs = [dict(p) for p in PAIRS]
    rows, info = [], {"n_real": len(real_img), "n_test": len(test_img), "extractor_sha256": extractor.weights_sha256}
    for space, feats in spaces.items():
        real = feats(real_img)  # real images are already on the 8-bit grid
        size: dict[str, dict] = {}
        for defects in singles + pairs:
            t0 = time.perf_counter()
            fake = feats(plant(test_img, test_lab, defects))
            name = label(defects)
            for metric in ("covariance", "euclidean") if defects in pairs else ("covariance",):
                out = blind_critics(real, fake, steps=3, seed=seed, metric=metric)
                row = {"space": space, "set": name, "defects": {k: SIZES[k][v] for k, v in defects.items()},
                       "sizes": defects, "metric": metric, "n": out["n"], "seed": seed,
                       "accuracy": [s["accuracy"] for s in out["steps"]] + [out["residual_accuracy"]],
                       "knn_accuracy": [s["knn_accuracy"] for s in out["steps"]] + [out["residual_knn_accuracy"]],
                       "p_value": [s["p_value"] for s in out["steps"]],
                       "explained": [s["explained"] for s in out["steps"]],
                       "top": [[where(space, i) for i in s["top_features"][:3]] for s in out["steps"]]}
                if len(defects) == 1:
                    size[name] = row
                if defects in pairs:
                    row["parts"] = [label({k: v}) for k, v in defects.items()]
                    row["part_accuracy"] = {p: size[p]["accuracy"] for p in row["parts"]}
                    row["part_knn"] = {p: size[p]["knn_accuracy"] for p in row["parts"]}
                    row["share"] = keyed_on(real, feats, test_img, test_lab, defects, seed, metric)
                row["wall_s"] = round(time.perf_counter() - t0, 2)
                rows.append(row)
                print(f"{space:10s} {name:34s} {metric:10s} lin {' '.join(f'{a:.3f}' for a in row['accuracy'])}  "
                      f"knn {' '.join(f'{a:.3f}' for a in row['knn_accuracy'])}  {row['wall_s']:.1f}s", flush=True)
                if "share" in row:
                    shares = {k: ([round(a, 2) for a in v["share"]], round(v["signature"], 2)) for k, v in row["share"].items()}
                    print("    share 1, 2 and signature:", shares, flush=True)
    return rows, info


SIGNATURE_MIN = 0.3  # a defect whose own linear signature moves scores by less than this many sd has none to share
FOUND = 0.5  # critic k "found" a defect when it carries at least this share of the defect's linear signature
KNN_MARGIN = 0.053  # 2 sd of the difference of two accuracies at n = 718


def verdict(row: dict) -> dict:
    """The checks of the page for one pair (see the page's "How a critic's find is decided")."""
    parts, acc, share = row["parts"], row["part_accuracy"], row["share"]
    a, b = sorted(parts, key=lambda p: -acc[p][0])
    tie = abs(acc[a][0] - acc[b][0]) < 0.02
    found = []
    for k in (0, 1):
        if row["p_value"][k] > 0.01:
            found.append(None)
        else:
            found.append([p for p in (a, b) if share[p]["signature"] >= SIGNATURE_MIN and share[p]["share"][k] >= FOUND])
    knn_extra = row["knn_accuracy"][1] - row["part_knn"][a][1]
    return {"larger": a, "smaller": b, "tie": tie, "found": found, "knn_extra": knn_extra,
            "first": None if tie else (found[0] is not None and a in found[0]),
            "first_only": None if tie else (found[0] == [a]),
            "next": None if tie else (found[1] == [b]), "knn_next": None if tie else knn_extra > KNN_MARGIN}


def short(name: str) -> str:
    return name.replace("strong ", "S-").replace("mild ", "m-")


def found_text(found: list | None) -> str:
    if found is None:
        return "at chance"
    return " + ".join(short(p) for p in found) if found else "neither"


def yes(v: bool | None) -> str:
    return "tie" if v is None else ("yes" if v else "**no**")


NOTES = """**Critic 1 finds the larger defect — and, as often, the smaller one with it.** In {first_yes} of {first_n} decidable
pairs critic 1 carries at least half of the larger defect's linear signature; only in {first_only} of them does it carry
the larger one alone. A linear critic keys on the mean difference of the two sets, and two defects that both move the
feature means are one vector to it. In digits-cnn features a brightness shift, a blur and a checkerboard move
overlapping features (f4 is among the top three of all three), so critic 1 reads much of both defects of a pair
(the smaller one's share {f_b1_lo:.2f}-{f_b1_hi:.2f}). In pixels the shift lives on the background pixels and the blur on the strokes, and
critic 1 keyed on the shift alone (shares 0.97 and 0.08): the issue's picture of a C2ST dominated by its most
prominent defect.

**The blind linear critic does not find the next defect ({next_yes} of {first_n}{next_note}).** With the default
covariance removal, critic 2 is near chance ({lin2_lo:.2f}-{lin2_mid:.2f}; {lin2_hi:.2f} where pixel blur needs several
directions) and carries no more than {max_share2:.2f} of either defect's signature. The removal regresses critic 1's score out of every feature; when
critic 1 separates the sets almost perfectly its score is almost the label, and what it removes is then the whole mean
difference of the two sets — the smaller defect's mean part with it. Pixels, strong shift + mild blur: critic 1 keyed
on the shift only (share 0.08 of the blur), yet after the removal the linear critic is at {p_sb_lin2:.3f}, where the
blur alone gives {p_blur_alone:.3f}. With the Euclidean removal (the textbook x ← x − (x·u)u) critic 2 stays nearly as
accurate as critic 1 ({euc_lo:.3f}-{euc_hi:.3f}) but found the smaller defect in only {euc_next} of {first_n} pairs: it
mostly reads the larger defect again (pixels, strong shift + mild blur: critic 2 at {p_sb_euc2:.3f} carries
{p_sb_euc_blur:.2f} of the blur's signature). Removing the critic's weight vector — Σ⁻¹ times the mean difference, not
the mean difference — leaves the defect readable from the features correlated with it.

**What the line leaves, the k-NN critic sees: missing modes.** In {knn_yes} of {first_n} pairs the k-NN accuracy after
critic 1's direction is removed exceeds what the larger defect alone leaves by more than {margin} (2 sd); every one of
them has the missing classes as the smaller defect (digits-cnn: strong blur + missing, +{f_bm:.3f}; mild shift + missing,
+{f_sm:.3f}; pixels: mild shift + missing, +{p_sm:.3f}). Dropping four classes barely moves the feature means (linear
signature {sig_f:.1f} sd in digits-cnn, {sig_p:.1f} in pixels; linear accuracy alone {lin_f:.2f} / {lin_p:.2f}) but
changes the shape of the distribution (k-NN alone {knn_f:.2f} / {knn_p:.2f}): it is the defect a line cannot see, and the k-NN column of the sequence is where it
shows once the dominant mean defect is gone. Blur, a mean defect here, is not recovered this way.

**Sizes and floors.** Dropping one class of ten can raise a C2ST's accuracy to 0.55 at most (the Bayes classifier
calls the missing class's region real and everything else fake); at n = 718 that is within the noise, and both the
linear and the k-NN critic miss it (0.54, 0.56 in digits-cnn; the floor is {floor_f:.3f}). In digits-cnn features the
floor itself is above chance: the extractor was trained on the train split, so train and test images differ by
{floor_f:.3f} before any defect is planted, and a "blind" accuracy of 0.55-0.57 is that floor, not a defect. In pixels
the mean defects are trivially separable (accuracy 1.000 for a ±0.03 checkerboard, about 4 grey levels): images
upscaled from 8×8 lie close to a 64-dimensional subspace (plus rounding), and a pattern outside it is a perfect
separator, so "larger" is undecidable between two such defects (marked tie) and a pixel critic's accuracy says nothing
about how visible a defect is.

**What this does not support.** One seed and one draw of the test images; n = 718 (fewer with missing classes); four
defect types at two sizes each; a linear critic and k-NN only. The instrument reports honestly what a linear Gram-Schmidt
can do — name the dominant mean defect and show, through the k-NN column, whether something else is left — and the
numbers say it cannot separate two mean defects into two critics: for that a critic that keys on something other than
the mean (a kernel, or a network's feature map) would be needed.
"""


def page(rows: list[dict], info: dict, wall: float) -> str:
    floor = {r["space"]: r for r in rows if r["set"].startswith("none")}
    pair_rows = [r for r in rows if "parts" in r]
    lines = [
        "# Defect-blind critics on planted defects",
        "",
        f"Written by `benchmarks/blind_critics.py` on {info.get('date', dt.date.today().isoformat())} ({platform.machine()}, "
        f"{os.cpu_count()} CPUs, one thread; {wall:.0f} s; rows in `benchmarks/rows/blind-critics.jsonl`). Instrument: "
        "`gankit.metrics.blind.blind_critics` (`gankit evaluate --metrics c2st-blind`), 3 steps, 5 folds, seed 0; "
        "docs/metrics.md describes it.",
        "",
        f"**Setup.** Real: the bundled digits' train split ({info['n_real']:,} images, 32×32). Fake: the test split "
        f"({info['n_test']} images) with planted defects — a brightness shift (+c in [-1, 1] units; 2 is black to white), "
        "missing modes (the images of the first k digit classes dropped), a Gaussian blur (σ in pixels, replicate "
        "padding), a checkerboard (±a on alternate pixels) — each mild and strong, and four pairs. Both sides on the "
        "8-bit grid, as `gankit evaluate` scores samples. The larger set is subsampled to the smaller (c2st's "
        "balancing): n = 718 held-out predictions (646 with one class dropped, 450 with four); an accuracy at chance "
        "scatters by ±0.037 (2 binomial sd) at n = 718. Features: `digits-cnn` (128-d; weights SHA-256 "
        f"{info['extractor_sha256'][:12]}…) and raw pixels (1,024-d).",
        "",
        "**Reading the numbers.** *lin k*: held-out accuracy of the k-th linear critic (logistic regression on "
        "standardized features), fitted after the directions of critics 1..k−1 were removed; *res*: after all three. "
        "*k-NN k*: the k-NN C2ST of `c2st` on the same features — what remains that a line cannot see. Every accuracy "
        "is cross-fitted: the removal is refitted inside each training fold. Removal: covariance (the default: "
        "critic k's score regressed out of every feature) unless a table says Euclidean.",
        "",
        "## Single defects",
        "",
        "| defect | size | space | lin 1 | lin 2 | lin 3 | res | k-NN 1 | k-NN 2 | k-NN 3 | critic 1 keyed on (top 3) |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        if "parts" in r:
            continue
        kind = next(iter(r["sizes"]), None)
        size = UNITS[kind].format(r["defects"][kind]) if kind else "—"
        acc, knn = r["accuracy"], r["knn_accuracy"]
        lines.append(f"| {r['set']} | {size} | {r['space']} | {acc[0]:.3f} | {acc[1]:.3f} | {acc[2]:.3f} | {acc[3]:.3f} | "
                     f"{knn[0]:.3f} | {knn[1]:.3f} | {knn[2]:.3f} | {', '.join(r['top'][0])} |")
    lines += [
        "",
        "Features are named f*i* (digits-cnn) or (row, col) (pixels), ranked by |weight × feature sd|.",
        "",
        "## Pairs: does critic 1 find the larger defect, and the blind critic 2 the smaller?",
        "",
        "**How a critic's find is decided.** *Larger* (A) and *smaller* (B): by the linear accuracy of each defect "
        "alone (a tie when they differ by less than 0.02, e.g. both 1.000). Each defect's *linear signature* is the "
        "first critic of the clean test images against the same images with that defect alone (free of the "
        "train/test difference); its *sig* is how far the defect moves that critic's score, in standard deviations "
        "of the real images' scores. *share k* = how far the defect moves critic k's score / how far it moves its "
        "own signature's: 1 means critic k reads all of the defect's linear signature. Cross-fitted: directions "
        "fitted on one half of the real rows and test images, shares measured on the other half, both ways, "
        f"averaged. Critic k *found* a defect when its share is ≥ {FOUND} and the defect has a signature (sig ≥ "
        f"{SIGNATURE_MIN}); \"at chance\" when the critic's accuracy has p > 0.01. *k-NN sees B*: the pair's k-NN "
        "accuracy after critic 1's direction is removed exceeds that of A alone after its own by more than "
        f"{KNN_MARGIN} (2 sd); covariance removal only, the removal the single defects were run with.",
        "",
    ]
    for metric in ("covariance", "euclidean"):
        lines += [f"### Removal: {metric}", "",
                  "| A (larger) | B | space | lin 1 | lin 2 | lin 3 | k-NN 1 | k-NN 2 | sig A / B | share 1 A / B | share 2 A / B "
                  "| critic 1 found | critic 2 found | larger first? | smaller next? | k-NN sees B? |",
                  "|---|---|---|---:|---:|---:|---:|---:|---|---|---|---|---|---|---|---|"]
        for r in pair_rows:
            if r["metric"] != metric:
                continue
            v = verdict(r)
            a, b = v["larger"], v["smaller"]
            acc, knn, sh = r["accuracy"], r["knn_accuracy"], r["share"]
            first = yes(v["first"]) + (" (B too)" if v["first"] and not v["first_only"] else "")
            knn_check = f"{yes(v['knn_next'])} ({v['knn_extra']:+.3f})" if metric == "covariance" else "—"
            lines.append(
                f"| {short(a)} ({r['part_accuracy'][a][0]:.3f}) | {short(b)} ({r['part_accuracy'][b][0]:.3f}) | {r['space']} | "
                f"{acc[0]:.3f} | {acc[1]:.3f} | {acc[2]:.3f} | {knn[0]:.3f} | {knn[1]:.3f} | "
                f"{sh[a]['signature']:.2f} / {sh[b]['signature']:.2f} | {sh[a]['share'][0]:.2f} / {sh[b]['share'][0]:.2f} | "
                f"{sh[a]['share'][1]:.2f} / {sh[b]['share'][1]:.2f} | {found_text(v['found'][0])} | {found_text(v['found'][1])} | "
                f"{first} | {yes(v['next'])} | {knn_check} |")
        lines.append("")
    lines += ["Floors (no defect: train split vs test split): " + "; ".join(
        f"{s}: linear {r['accuracy'][0]:.3f}, k-NN {r['knn_accuracy'][0]:.3f}" for s, r in floor.items()) + ".", ""]
    cov = [(r, verdict(r)) for r in pair_rows if r["metric"] == "covariance"]
    decidable = [(r, v) for r, v in cov if not v["tie"]]
    by = {(r["space"], tuple(sorted(r["sizes"]))): r for r, _ in cov}
    single = {(r["space"], r["set"]): r for r in rows if "parts" not in r}

    def extra(space: str, kinds: tuple[str, ...]) -> float:
        return verdict(by[(space, tuple(sorted(kinds)))])["knn_extra"]

    euc = [(r, verdict(r)) for r in pair_rows if r["metric"] == "euclidean" and not verdict(r)["tie"]]
    euc_by = {(r["space"], tuple(sorted(r["sizes"]))): r for r, _ in euc}
    lin2 = sorted(r["accuracy"][1] for r, _ in cov)
    feat_b1 = [r["share"][v["smaller"]]["share"][0] for r, v in decidable if r["space"] == "digits-cnn"]
    hits = [(r, v) for r, v in decidable if v["next"]]
    next_note = "".join(f"; the one yes, {r['space']} {short(v['larger'])} + {short(v['smaller'])}, is weak: critic 1 had "
                        f"already carried {r['share'][v['smaller']]['share'][0]:.2f} of it" for r, v in hits[:1])
    miss = {sp: single[(sp, "strong missing")] for sp in ("digits-cnn", "pixels")}
    sig = {sp: next(r["share"]["strong missing"]["signature"] for r, _ in cov if r["space"] == sp and "missing" in r["sizes"])
           for sp in ("digits-cnn", "pixels")}
    lines += ["## What the numbers support", "", NOTES.format(
        f_b1_lo=min(feat_b1), f_b1_hi=max(feat_b1), next_note=next_note, lin2_lo=lin2[0], lin2_mid=lin2[-2], lin2_hi=lin2[-1],
        sig_f=sig["digits-cnn"], sig_p=sig["pixels"], lin_f=miss["digits-cnn"]["accuracy"][0],
        lin_p=miss["pixels"]["accuracy"][0], knn_f=miss["digits-cnn"]["knn_accuracy"][0], knn_p=miss["pixels"]["knn_accuracy"][0],
        euc_lo=min(r["accuracy"][1] for r, _ in euc), euc_hi=max(r["accuracy"][1] for r, _ in euc),
        euc_next=sum(v["next"] for _, v in euc), p_sb_euc2=euc_by[("pixels", ("blur", "shift"))]["accuracy"][1],
        p_sb_euc_blur=euc_by[("pixels", ("blur", "shift"))]["share"]["mild blur"]["share"][1],
        first_yes=sum(v["first"] for _, v in decidable), first_n=len(decidable),
        first_only=sum(v["first_only"] for _, v in decidable), next_yes=sum(v["next"] for _, v in decidable),
        knn_yes=sum(v["knn_next"] for _, v in decidable), margin=KNN_MARGIN,
        max_share2=max(max(r["share"][p]["share"][1] for p in r["parts"] if r["share"][p]["signature"] >= SIGNATURE_MIN)
                       for r, _ in cov),
        p_sb_lin2=by[("pixels", ("blur", "shift"))]["accuracy"][1],
        p_blur_alone=single[("pixels", "mild blur")]["accuracy"][0],
        f_bm=extra("digits-cnn", ("blur", "missing")), f_sm=extra("digits-cnn", ("missing", "shift")),
        p_sm=extra("pixels", ("missing", "shift")), floor_f=floor["digits-cnn"]["accuracy"][0])]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(ROOT / "docs" / "benchmarks" / "blind_critics.md"))
    p.add_argument("--rows", default=str(ROOT / "benchmarks" / "rows" / "blind-critics.jsonl"))
    p.add_argument("--no-rows", action="store_true", help="do not write the rows file")
    p.add_argument("--from-rows", default="", help="tabulate this rows file instead of computing")
    args = p.parse_args()
    t0 = time.perf_counter()
    if args.from_rows:
        lines = [json.loads(line) for line in Path(args.from_rows).read_text().splitlines() if line.strip()]
        info, rows = lines[0], lines[1:]
    else:
        rows, info = run(args.seed)
        info = {**info, "wall_s": round(time.perf_counter() - t0, 1), "date": dt.date.today().isoformat()}
        if not args.no_rows:
            Path(args.rows).write_text("".join(json.dumps(r) + "\n" for r in [{"info": True, **info}, *rows]))
    Path(args.out).write_text(page(rows, info, info["wall_s"]))
    print(f"wrote {args.out} ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
