"""Image-to-image translation side by side in one run (issue 17): the papers' ablations on the offline tasks, every row
scored the same way, written to docs/benchmarks/translation.md.

Rows (each trained with the shipped preset and the variant's overrides; the runs are kept in ``--runs`` and
``--reuse`` scores them again without training; ``--seeds`` seeds per row):

* edges2digits (paired): the identity map (the floor), pix2pix with L1 alone (λ_L1 = 100, no D), cGAN alone
  (λ_L1 = 0) and L1 + cGAN (the paper's), as Isola et al. 2017 Table 1;
* digits2color (unpaired): the identity map, CycleGAN with cycle alone (no D), GAN alone (no cycle, no identity),
  GAN + cycle (no identity) and the full loss (+ identity 0.5·λ), as Zhu et al. 2017 Table 4;
* digits-attrs (5 attribute bits): the identity map and StarGAN.

Every row is scored by ``gankit.metrics.translation`` on all 359 test digits: frozen domain / attribute and content
(digit) classifiers trained on the train split, FID in the target domain on the content classifier's features, L1 /
PSNR / SSIM against the truth for the paired task, the cycle (StarGAN: reconstruction) L1, and for the paired task the
sharpness ratio (mean luma gradient of the outputs over the truth's: an L1-only G blurs).

    python benchmarks/translation.py [--seeds 2] [--threads 2] [--reuse] [--from-rows]
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "benchmarks" / "rows" / "translation.jsonl"
PAGE = ROOT / "docs" / "benchmarks" / "translation.md"
N_TEST = 359

#: (task preset, data set, row label, overrides, the paper's row it reproduces)
VARIANTS = [
    ("pix2pix", "edges2digits", "L1 alone", ["pix2pix.adv=0"], "L1"),
    ("pix2pix", "edges2digits", "cGAN alone", ["pix2pix.l1=0"], "cGAN"),
    ("pix2pix", "edges2digits", "L1 + cGAN", [], "L1+cGAN"),
    ("cyclegan", "digits2color", "cycle alone", ["cyclegan.adv=0"], "Cycle alone"),
    ("cyclegan", "digits2color", "GAN alone", ["cyclegan.cycle=0", "cyclegan.identity=0"], "GAN alone"),
    ("cyclegan", "digits2color", "GAN + cycle", ["cyclegan.identity=0"], "CycleGAN"),
    ("cyclegan", "digits2color", "GAN + cycle + identity", [], "CycleGAN"),
    ("stargan", "digits-attrs", "StarGAN", [], "StarGAN"),
]
#: the papers' numbers for context: pix2pix Table 1 and CycleGAN Table 4 (Cityscapes labels -> photo, FCN per-pixel
#: accuracy), StarGAN Table 3 (RaFD classification error of translated images)
ANCHORS = [
    ("pix2pix (Isola et al. 2017, Table 1)", "Cityscapes labels → photo, FCN per-pixel acc.",
     "L1 0.42 · GAN 0.22 · cGAN 0.57 · L1+GAN 0.64 · L1+cGAN 0.66 · ground truth 0.80"),
    ("CycleGAN (Zhu et al. 2017, Table 4)", "Cityscapes labels → photo, FCN per-pixel acc.",
     "cycle alone 0.22 · GAN alone 0.51 · GAN+forward cycle 0.55 · GAN+backward cycle 0.39 · CycleGAN 0.52"),
    ("StarGAN (Choi et al. 2018, Table 3)", "RaFD expressions, classification error",
     "StarGAN 2.12 % · CycleGAN 5.99 % · DIAT 4.10 % · IcGAN 8.07 % · real images 0.45 %"),
]


from common import QUIET, load_rows, save_rows, train_kept as _train  # noqa: E402
from restoration import sharpness  # noqa: E402 - the same sharpness measure as the restoration page


def score(outputs: dict, data: str, channels: int) -> dict:
    from gankit.data.domains import eval_items, offline
    from gankit.metrics.translation import translation_scores

    train, test = offline(data, "train", 32, channels), offline(data, "test", 32, channels)
    full = translation_scores(outputs, train, test)
    res = {k: v for k, v in full.items() if isinstance(v, float)}
    res.update({f"acc_{k}": v for k, v in full.get("acc_by_attribute", {}).items()})
    if train.kind == "paired":
        res["sharpness"] = sharpness(outputs["ab"]) / sharpness(eval_items(test, N_TEST)["b"])
    return res


def rows(seeds: int, runs: Path, reuse: bool) -> list[dict]:
    from gankit import api
    from gankit.config import load_preset
    from gankit.data.domains import offline
    from gankit.metrics.translation import identity_outputs

    out: list[dict] = []
    for data, task in (("edges2digits", "pix2pix"), ("digits2color", "cyclegan"), ("digits-attrs", "stargan")):
        channels = load_preset(task).data.channels
        out.append({"data": data, "row": "identity map", "paper": "", "seed": None, "wall_s": 0.0,
                    **score(identity_outputs(offline(data, "test", 32, channels), N_TEST), data, channels)})
        print(out[-1], flush=True)
    for task, data, label, overrides, paper in VARIANTS:
        channels = load_preset(task).data.channels
        for seed in range(seeds):
            name = f"{task}-{label.replace(' + ', '+').replace(' ', '-')}-s{seed}"
            wall = _train(task, runs / name, [*QUIET, f"train.seed={seed}", *overrides], reuse)
            pipe = api.load(runs / name)
            from gankit.config import load_file

            cfg = load_file(runs / name / "config.json")
            outputs = pipe.eval_outputs(cfg.data, N_TEST, 0)
            params = sum(p.numel() for p in pipe.module.parameters())
            out.append({"data": data, "row": label, "paper": paper, "seed": seed, "wall_s": round(wall, 1), "params": params,
                        "overrides": overrides, "evals": bool(cfg.eval.metrics), **score(outputs, data, channels)})
            print(out[-1], flush=True)
    return out


def _mean(rs: list[dict], key: str) -> tuple[float, float] | None:
    vals = [r[key] for r in rs if key in r and r[key] is not None and math.isfinite(r[key])]
    if not vals:
        return None
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else float("nan"))


def _cell(rs: list[dict], key: str, d: int = 3) -> str:
    m = _mean(rs, key)
    if m is None:
        return "—"
    mean, sd = m
    return f"{mean:.{d}f}" + (f" ± {sd:.{d}f}" if math.isfinite(sd) else "")


def _wall(rs: list[dict]) -> str:
    return _cell(rs, "wall_s", 0) + (" *" if any(r.get("evals") for r in rs) else "")


def _groups(rows_: list[dict], data: str) -> list[tuple[str, list[dict]]]:
    labels = list(dict.fromkeys(r["row"] for r in rows_ if r["data"] == data))
    return [(lab, [r for r in rows_ if r["data"] == data and r["row"] == lab]) for lab in labels]


def _ordering(rows_: list[dict], data: str, key: str | tuple[str, ...], order: list[str], higher: bool = True) -> str:
    """Whether the rows' means of ``key`` (several keys: their average) follow ``order`` (worst first, best last)."""
    keys = (key,) if isinstance(key, str) else key
    means = {}
    for lab, rs in _groups(rows_, data):
        ms = [_mean(rs, k) for k in keys]
        if all(ms):
            means[lab] = statistics.fmean(m[0] for m in ms)
    vals = [means[lab] for lab in order if lab in means]
    ok = all((b > a) if higher else (b < a) for a, b in zip(vals, vals[1:]))
    shown = ", ".join(f"{lab} {means[lab]:.3f}" for lab in order if lab in means)
    return f"{'holds' if ok else 'does not hold'} ({shown})"


def write_page(rows_: list[dict], meta: dict) -> None:
    L = ["# Image-to-image translation: the papers' ablations on the offline tasks", "",
         f"Written by `benchmarks/translation.py` on {meta['date']} ({meta['machine']}); {meta['seeds']} seeds per row (mean ± "
         "standard deviation); every row trained with the shipped preset (`pix2pix`, `cyclegan`, `stargan`: 32×32, "
         "CPU-sized) and the variant's overrides, and scored on all 359 held-out test digits by the `translation` metric "
         "(docs/translation.md): frozen classifiers trained on the train split, outputs rounded to 8 bits first.", "",
         "Columns: **domain** — fraction of outputs the domain classifier puts in the target domain (StarGAN: with all target "
         "attributes right); **success** — fraction of outputs both in the target domain and keeping their digit (the analogue of the FCN-score, which asks for the right class in the right domain); **content** — fraction whose digit the target domain's digit classifier reads as the source's; "
         "**FID** — in the target domain, on the domain and digit classifiers' features side by side; **L1 / PSNR / SSIM** — against the true "
         "digit (paired only); **sharp** — mean luma gradient of the outputs over the truth's (below 1: blurrier); "
         "**cycle** — mean |F(G(a)) − a| (StarGAN: |G(G(x, c), c_own) − x|), [-1, 1] units; **train s** — wall seconds of "
         "the training loop (rows marked * include three evaluations during training: they were trained first, with "
         "`eval.every=500`, to watch them learn).", ""]
    L += ["## pix2pix on edges2digits (Canny edges → digit, paired)", "",
          "| row | success ↑ | domain ↑ | content ↑ | FID ↓ | L1 ↓ | PSNR ↑ | SSIM ↑ | sharp | train s |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    for lab, rs in _groups(rows_, "edges2digits"):
        L.append(f"| {lab} | {_cell(rs, 'success')} | {_cell(rs, 'domain_acc')} | {_cell(rs, 'content_acc')} | {_cell(rs, 'fid', 1)} | {_cell(rs, 'l1')} | "
                 f"{_cell(rs, 'psnr', 2)} | {_cell(rs, 'ssim')} | {_cell(rs, 'sharpness', 2)} | {_wall(rs)} |")
    L += ["", "- The paper's FCN-score ordering, L1 alone (0.42) < cGAN alone (0.57) < L1 + cGAN (0.66), read as success: "
          f"{_ordering(rows_, 'edges2digits', 'success', ['L1 alone', 'cGAN alone', 'L1 + cGAN'])}.",
          f"- L1 alone is blurrier than L1 + cGAN (sharpness): {_ordering(rows_, 'edges2digits', 'sharpness', ['L1 alone', 'L1 + cGAN'])}; "
          f"and farther from real digits (FID, lower is better): {_ordering(rows_, 'edges2digits', 'fid', ['L1 alone', 'L1 + cGAN'], higher=False)}.",
          f"- cGAN alone hallucinates (its digits survive less): {_ordering(rows_, 'edges2digits', 'content_acc', ['cGAN alone', 'L1 + cGAN'])}.",
          "- The digits are 8×8 images upsampled to 32×32: the targets are smooth, with no fine texture an L1-trained G could "
          "average away, so the blur the paper shows for L1 alone (on photos) has little room to appear here.",
          ""]
    L += ["## CycleGAN on digits2color (plain ↔ colour digits on textures, unpaired)", "",
          "| row | A→B success ↑ | A→B domain ↑ | A→B content ↑ | A→B FID ↓ | B→A success ↑ | B→A domain ↑ | B→A content ↑ | B→A FID ↓ "
          "| cycle ↓ | train s |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for lab, rs in _groups(rows_, "digits2color"):
        L.append(f"| {lab} | {_cell(rs, 'success')} | {_cell(rs, 'domain_acc')} | {_cell(rs, 'content_acc')} | {_cell(rs, 'fid', 1)} | "
                 f"{_cell(rs, 'success_ba')} | {_cell(rs, 'domain_acc_ba')} | {_cell(rs, 'content_acc_ba')} | {_cell(rs, 'fid_ba', 1)} | "
                 f"{_cell(rs, 'cycle_l1')} | {_wall(rs)} |")
    both = ("success", "success_ba")
    L += ["", "- The paper's ordering, cycle alone (0.22) < GAN alone (0.51) < CycleGAN (0.52), read as success averaged over both "
          f"directions: {_ordering(rows_, 'digits2color', both, ['cycle alone', 'GAN alone', 'GAN + cycle + identity'])}; "
          f"each ablation below the full loss: {_ordering(rows_, 'digits2color', both, ['GAN alone', 'GAN + cycle + identity'])} and "
          f"{_ordering(rows_, 'digits2color', both, ['cycle alone', 'GAN + cycle + identity'])}.",
          "- The identity loss (the reference code's 0.5·λ) against none: success "
          f"{_ordering(rows_, 'digits2color', both, ['GAN + cycle', 'GAN + cycle + identity'])}; A→B FID "
          f"{_ordering(rows_, 'digits2color', 'fid', ['GAN + cycle', 'GAN + cycle + identity'], higher=False)}.", ""]
    L += ["## StarGAN on digits-attrs (colour × thick × texture, 5 bits)", "",
          "| row | success ↑ | all attributes ↑ | per attribute ↑ | colour | thick | texture | content ↑ | FID ↓ | reconstruction ↓ | train s |",
          "|---|---|---|---|---|---|---|---|---|---|---|"]
    for lab, rs in _groups(rows_, "digits-attrs"):
        L.append(f"| {lab} | {_cell(rs, 'success')} | {_cell(rs, 'domain_acc')} | {_cell(rs, 'attr_acc')} | {_cell(rs, 'acc_color')} | {_cell(rs, 'acc_thick')} | "
                 f"{_cell(rs, 'acc_texture')} | {_cell(rs, 'content_acc')} | {_cell(rs, 'fid', 1)} | {_cell(rs, 'cycle_l1')} | "
                 f"{_wall(rs)} |")
    L += ["", "StarGAN's FID compares each output with a real test digit of its target attributes; the identity map's FID is "
          "low because its outputs are real digits (of the wrong attributes: its attribute accuracy is the floor).", ""]
    L += ["## Published anchors (for context; other data, other classifiers)", "", "| paper | task | numbers |", "|---|---|---|"]
    L += [f"| {a} | {b} | {c} |" for a, b, c in ANCHORS]
    L += ["", "Rerun: `python benchmarks/translation.py` (about 80 minutes on 2 cores); `--reuse` rescores the kept runs, "
          "`--from-rows` rewrites this page from benchmarks/rows/translation.jsonl.", ""]
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text("\n".join(L))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=2, help="seeds per row")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--runs", default=str(ROOT / "runs" / "bench-translation"), help="where the trained runs are kept")
    ap.add_argument("--reuse", action="store_true", help="score finished runs found in --runs instead of training them again")
    ap.add_argument("--from-rows", action="store_true")
    args = ap.parse_args()
    import platform

    import torch

    torch.set_num_threads(args.threads)
    if args.from_rows:
        meta, rows_ = load_rows(ROWS)
    else:
        meta = {"date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}",
                "seeds": args.seeds}
        rows_ = rows(args.seeds, Path(args.runs), args.reuse)
        save_rows(ROWS, meta, rows_)
    write_page(rows_, meta)
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
