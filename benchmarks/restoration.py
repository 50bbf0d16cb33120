"""Restoration side by side in one run (issue 18): super-resolution ×4 on the held-out photos and inpainting of
held-out patches, every row scored the same way, written to docs/benchmarks/restoration.md.

Super-resolution rows (trained on the 8 bundled training photos with the shipped presets, ``--steps`` each; scored on
the 2 held-out photos, chelsea and flower, whole, cropped to a multiple of 4 and downsampled by MATLAB's bicubic;
the runs are kept in ``--runs`` and ``--reuse`` scores them again without training):

* bicubic (MATLAB kernel, no learning), SRResNet (pixel loss), SRGAN (SRResNet + content + adversarial),
  ESRGAN at α = 0 (its PSNR-oriented RRDB), 0.5 and 1 (the GAN) by network interpolation. The GANs spend the first
  half of their steps on the pixel loss (``sr.pretrain``), as both papers start from the PSNR model.

Columns: PSNR / SSIM on the Y channel with a border crop of 4 (the papers' convention) and on RGB; FID between the
64×64 patches (stride 32) of the restored and the original photos with the fixed random VGG19 (``vgg19-random``; few
patches, so the FID is biased upward and only its order means something); the sharpness ratio (mean gradient magnitude
of the restored luma over the original's); LPIPS when ``--lpips WEIGHTS`` is given.

Inpainting rows (256 held-out 64×64 patches, centre holes and free-form holes, the ``inpaint`` preset's data): the
holed input, scikit-image's biharmonic inpainting, the context encoder with λ_adv = 0 (L2 only: the paper's ablation)
and with the paper's 0.999 / 0.001; columns hole L1, hole PSNR, whole-patch PSNR / SSIM, FID (vgg19-random) and the
sharpness ratio of completed patches.

    python benchmarks/restoration.py [--steps 1200] [--inpaint-steps 2000] [--threads 2] [--reuse] [--from-rows]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import QUIET, load_rows, save_rows, train_kept as _train  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "benchmarks" / "rows" / "restoration.jsonl"
PAGE = ROOT / "docs" / "benchmarks" / "restoration.md"
ANCHORS = [  # ×4, Y channel, PSNR / SSIM (Ledig et al. 2017 Table 2; Wang et al. 2018 Table 1 for RRDB)
    ("Set5", "bicubic", "28.42 / 0.810"), ("Set5", "SRResNet", "32.05 / 0.902"), ("Set5", "SRGAN", "29.40 / 0.847"),
    ("Set5", "RRDB (ESRGAN's PSNR model)", "32.73 / 0.901"), ("Set14", "SRResNet", "28.49 / —"), ("Set14", "SRGAN", "26.02 / —"),
]


def sharpness(x, crop: int = 0) -> float:  # noqa: ANN001 - N×C×H×W in [-1, 1] -> mean |∇Y| in 8-bit levels per pixel
    """Mean gradient magnitude of the BT.601 luma (finite differences, ``crop`` pixels off each border): blur lowers it."""
    from gankit.metrics.restoration import rgb_to_y, to_uint8_range

    y = to_uint8_range(x)
    y = rgb_to_y(y) if y.shape[1] == 3 else y
    if crop:
        y = y[..., crop:-crop, crop:-crop]
    gx, gy = y[..., :, 1:] - y[..., :, :-1], y[..., 1:, :] - y[..., :-1, :]
    return float((gx[..., :-1, :].pow(2) + gy[..., :, :-1].pow(2)).sqrt().mean())


def _patches(x, size: int = 64, stride: int = 32):  # noqa: ANN001, ANN202 - N×C×H×W -> M×C×size×size
    p = x.unfold(2, size, stride).unfold(3, size, stride)
    return p.permute(0, 2, 3, 1, 4, 5).reshape(-1, x.shape[1], size, size)


def sr_rows(steps: int, lpips_weights: str | None, runs: Path, reuse: bool) -> list[dict]:
    import torch

    from gankit import api
    from gankit.data import build_dataset
    from gankit.data.degrade import imresize
    from gankit.data.images import quantize, to_float
    from gankit.metrics.features import build_extractor
    from gankit.metrics.fid import fid
    from gankit.metrics.restoration import restoration_scores
    from gankit.models.classical import bicubic_upscale

    cfg = api.resolve_config("srresnet")
    test = build_dataset(cfg.data, "test")
    hrs = []
    for photo in test.photos:
        h, w = (photo.shape[1] // 4) * 4, (photo.shape[2] // 4) * 4
        hrs.append(to_float(photo[None, :, :h, :w]))
    lrs = [quantize(imresize(hr, 0.25, kernel="matlab")) for hr in hrs]
    ext = build_extractor("vgg19-random")
    lp = None
    if lpips_weights:
        from gankit.metrics.lpips import load_lpips

        lp = load_lpips(lpips_weights)
    real_f = ext(torch.cat([_patches(hr) for hr in hrs]))["features"]
    real_sharp = sum(sharpness(hr, 4) for hr in hrs) / len(hrs)

    def score(name: str, outs: list, extra: dict) -> dict:
        outs = [quantize(o.clamp(-1, 1)) for o in outs]
        per = [restoration_scores(o, hr, scale_crop=4) for o, hr in zip(outs, hrs)]
        row = {k: sum(p[k] for p in per) / len(per) for k in per[0]}
        row["sharpness_ratio"] = sum(sharpness(o, 4) for o in outs) / len(outs) / real_sharp
        row["fid_vgg19_random"] = float(fid(real_f, ext(torch.cat([_patches(o) for o in outs]))["features"]))
        if lp is not None:
            with torch.no_grad():
                row["lpips"] = float(sum(lp(o, hr).mean() for o, hr in zip(outs, hrs)) / len(outs))
        return {"kind": "sr", "row": name, **row, **extra}

    rows = [score("bicubic (MATLAB kernel)", [bicubic_upscale(lr, 4) for lr in lrs], {"train_s": 0.0, "params": 0})]
    for preset, label in (("srresnet", "SRResNet (MSE)"), ("srgan", "SRGAN"), ("esrgan", "ESRGAN")):
        pre = [] if preset == "srresnet" else [f"sr.pretrain={steps // 2}"]  # the GANs: the first half on the pixel loss
        wall = _train(preset, runs / preset, [f"train.steps={steps}", *pre, *QUIET], reuse)
        pipe = api.load(runs / preset)
        params = sum(p.numel() for p in (pipe.module.gan if hasattr(pipe.module, "gan") else pipe.module).parameters())
        extra = {"train_s": round(wall, 1), "params": params, "steps": steps}
        if preset == "esrgan":
            for alpha in (0.0, 0.5, 1.0):
                rows.append(score(f"ESRGAN α = {alpha:g}" + (" (its PSNR model)" if alpha == 0 else " (the GAN)" if alpha == 1 else ""),
                                  [pipe(lr, alpha=alpha) for lr in lrs], extra))
        else:
            rows.append(score(label, [pipe(lr) for lr in lrs], extra))
        print(json.dumps(rows[-1]), flush=True)
    return rows


def inpaint_rows(steps: int, runs: Path, reuse: bool, n: int = 256) -> list[dict]:
    from gankit import api
    from gankit.data import build_dataset
    from gankit.data.images import quantize
    from gankit.data.photos import eval_pairs
    from gankit.metrics.features import build_extractor
    from gankit.metrics.fid import fid
    from gankit.metrics.pair_scores import hole_scores
    from gankit.metrics.restoration import restoration_scores
    from gankit.models.classical import biharmonic_inpaint

    ext = build_extractor("vgg19-random")
    rows = []
    for kind in ("center", "free-form"):
        cfg = api.resolve_config("inpaint", overrides=[f"data.mask={kind}"])
        pairs = eval_pairs(build_dataset(cfg.data, "test"), n, 0)
        x, inp, mask = pairs["x"], pairs["input"], pairs["mask"]
        real_f = ext(x)["features"]
        real_sharp = sharpness(x)

        def score(name: str, out, extra: dict) -> dict:  # noqa: ANN001
            out = quantize(out.clamp(-1, 1))
            return {"kind": "inpaint", "mask": kind, "row": name, **hole_scores(out, x, mask), **restoration_scores(out, x, scale_crop=0),
                    "fid_vgg19_random": float(fid(real_f, ext(out)["features"])), "sharpness_ratio": sharpness(out) / real_sharp,
                    "hole_fraction": float(mask.mean()), **extra}

        rows.append(score("holed input (hole = mid-grey)", inp, {"train_s": 0.0}))
        t0 = time.perf_counter()
        filled = biharmonic_inpaint(inp, mask)
        rows.append(score("biharmonic (scikit-image)", filled, {"train_s": 0.0, "fill_s": round(time.perf_counter() - t0, 1)}))
        for label, name, over in (("context encoder, L2 only (λ_adv = 0)", "l2", ["inpaint.adv=0"]),
                                  ("context encoder (0.999 L2 + 0.001 adv)", "gan", [])):
            out = runs / f"inpaint-{kind}-{name}"
            wall = _train("inpaint", out, [f"train.steps={steps}", f"data.mask={kind}", *QUIET, *over], reuse)
            rows.append(score(label, api.load(out)(inp, masks=mask), {"train_s": round(wall, 1)}))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def _f(v: float, d: int = 2) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else ("∞" if v == math.inf else f"{v:.{d}f}")


def _trade(row: dict, ref: dict) -> str:
    """How a GAN row moved against the PSNR model: PSNR, FID and sharpness, and whether that is the expected trade."""
    dp, df, ds = row["psnr_y"] - ref["psnr_y"], row["fid_vgg19_random"] - ref["fid_vgg19_random"], row["sharpness_ratio"] - ref["sharpness_ratio"]
    head = f"Y-PSNR {dp:+.2f} dB, FID {df:+.3f}, sharpness ratio {ref['sharpness_ratio']:.3f} → {row['sharpness_ratio']:.3f}: "
    if dp >= 0:
        return head + "PSNR did not drop, so there is no trade to see at this size."
    if df < 0 or ds > 0:
        gains = " and ".join(g for g, ok in (("FID down", df < 0), ("texture sharper", ds > 0)) if ok)
        return head + f"the perception–distortion trade-off (Blau & Michaeli 2018) shows — distortion up, {gains}."
    return head + "it loses PSNR without gaining on these perceptual measures: no trade-off at this size."


def write_page(rows: list[dict], meta: dict) -> None:
    sr = [r for r in rows if r["kind"] == "sr"]
    ip = [r for r in rows if r["kind"] == "inpaint"]
    has_lpips = any("lpips" in r for r in sr)
    lines = [
        "# Restoration: super-resolution and inpainting on the held-out photos",
        "",
        f"Written by `benchmarks/restoration.py` on {meta['date']} ({meta['machine']}); {meta['steps']} training steps per SR model "
        f"(the GANs: the first half on the pixel loss, `sr.pretrain`), {meta['inpaint_steps']} per inpainting model, the shipped "
        "presets (CPU-sized networks, 64-pixel patches, batch 16), one seed. Training data: the 8 bundled training photos; "
        "every number below is on photos or patches never trained on.",
        "",
        "## Super-resolution ×4 (chelsea and flower, whole photos)",
        "",
        "Low-resolution inputs: the originals cropped to a multiple of 4 and downsampled by MATLAB's bicubic `imresize` "
        "(a = −0.5, antialiased; `gankit.data.degrade.imresize`), rounded to 8 bits. **PSNR / SSIM (Y)**: BT.601 luma of the "
        "8-bit images, 4 pixels cropped from each border — the SR papers' convention (BasicSR's `calculate_psnr`/`calculate_ssim` "
        "with `test_y_channel=True, crop_border=4`). **RGB**: all three channels, same crop. **FID (random VGG19)**: Fréchet "
        "distance between 64×64 patches (stride 32) of the restored and the original photos in the 512-d pooled relu5_4 "
        "features of a fixed random VGG19 (`vgg19-random`, Naeem et al. 2020's random embedding; its features vary little, so "
        "the values are small); lower is closer. A few hundred patches: compare rows, never with published FIDs. **Sharpness "
        "ratio**: the mean gradient magnitude of the restored Y channel over the original's (same crop) — 1 is as sharp as the "
        "photo, below 1 blurrier; it rewards sharpness, not correctness (noise would raise it too).",
        "",
        "| row | PSNR Y | SSIM Y | PSNR RGB | SSIM RGB | FID (random VGG19) | sharpness ratio |" + (" LPIPS |" if has_lpips else "")
        + " params | train s |",
        "|---|---:|---:|---:|---:|---:|---:|" + ("---:|" if has_lpips else "") + "---:|---:|",
    ]
    for r in sr:
        lines.append(f"| {r['row']} | {_f(r['psnr_y'])} | {_f(r['ssim_y'], 3)} | {_f(r['psnr_rgb'])} | {_f(r['ssim_rgb'], 3)} | "
                     f"{_f(r['fid_vgg19_random'], 3)} | {_f(r['sharpness_ratio'], 3)} |" + (f" {_f(r.get('lpips'), 3)} |" if has_lpips else "")
                     + f" {r['params']:,} | {r['train_s']:.0f} |")
    by = {r["row"]: r for r in sr}
    bic, srr = by.get("bicubic (MATLAB kernel)"), by.get("SRResNet (MSE)")
    es = [by.get(k) for k in ("ESRGAN α = 0 (its PSNR model)", "ESRGAN α = 0.5", "ESRGAN α = 1 (the GAN)")]
    lines += ["", "What this run shows:", ""]
    if bic and srr:
        lines.append(f"- SRResNet {'beats' if srr['psnr_y'] > bic['psnr_y'] else 'does not beat'} bicubic on Y-PSNR: "
                     f"{srr['psnr_y']:.2f} vs {bic['psnr_y']:.2f} dB ({srr['psnr_y'] - bic['psnr_y']:+.2f} dB; the paper on Set5: +3.63 dB "
                     "after 10⁶ updates of a network 5× larger). Bicubic is the blurriest row (sharpness ratio "
                     f"{bic['sharpness_ratio']:.3f}).")
    if srr and by.get("SRGAN"):
        lines.append(f"- SRGAN against its own start, SRResNet: {_trade(by['SRGAN'], srr)}")
    if all(es):
        lines.append(f"- ESRGAN against its own PSNR model (α = 0): {_trade(es[2], es[0])}")
        lines.append(f"- Network interpolation, α = 0 → 0.5 → 1: Y-PSNR {es[0]['psnr_y']:.2f} → {es[1]['psnr_y']:.2f} → "
                     f"{es[2]['psnr_y']:.2f} dB, FID {es[0]['fid_vgg19_random']:.3f} → {es[1]['fid_vgg19_random']:.3f} → "
                     f"{es[2]['fid_vgg19_random']:.3f}, sharpness {es[0]['sharpness_ratio']:.3f} → {es[1]['sharpness_ratio']:.3f} → "
                     f"{es[2]['sharpness_ratio']:.3f}.")
    lines += ["", "Published anchors (×4, Y channel, PSNR / SSIM; different test images, full-size networks, 10⁵–10⁶ updates on "
              "ImageNet / DIV2K, ImageNet VGG19 features) — for context only:", "", "| set | model | PSNR / SSIM |", "|---|---|---|"]
    lines += [f"| {s} | {m} | {v} |" for s, m, v in ANCHORS]
    if ip:
        lines += ["", "## Inpainting (256 held-out 64×64 patches)", "",
                  "Two kinds of hole: `center`, the central 32×32 block (Pathak et al. 2016's setting, 25 % of the pixels), and "
                  "`free-form`, DeepFill v2's strokes (`gankit.data.masks.free_form`), "
                  f"{100 * next(r['hole_fraction'] for r in ip if r['mask'] == 'free-form'):.1f} % of the pixels on average. Each "
                  "context encoder trains on its kind of hole. Every row keeps the known pixels unchanged. **Hole L1**: mean absolute "
                  "error over the hole in [-1, 1] units; **hole PSNR**: over the hole's 8-bit pixels; PSNR / SSIM (Y, no crop) over "
                  "whole patches; FID and sharpness ratio as above, on the completed patches.", "",
                  "| holes | row | hole L1 | hole PSNR | PSNR Y | SSIM Y | FID (random VGG19) | sharpness ratio | train s |",
                  "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for r in ip:
            lines.append(f"| {r['mask']} | {r['row']} | {_f(r['hole_l1'], 3)} | {_f(r['hole_psnr'])} | {_f(r['psnr_y'])} | "
                         f"{_f(r['ssim_y'], 3)} | {_f(r['fid_vgg19_random'], 3)} | {_f(r['sharpness_ratio'], 3)} | {r['train_s']:.0f} |")
        lines += [""]
        for kind in ("center", "free-form"):
            ib = {r["row"]: r for r in ip if r["mask"] == kind}
            bh, l2, ce = ib.get("biharmonic (scikit-image)"), ib.get("context encoder, L2 only (λ_adv = 0)"), ib.get("context encoder (0.999 L2 + 0.001 adv)")
            if bh and ce and l2:
                lines.append(f"- {kind} holes: the context encoder {'beats' if ce['hole_psnr'] > bh['hole_psnr'] else 'does not beat'} the "
                             f"biharmonic baseline on hole PSNR ({ce['hole_psnr']:.2f} vs {bh['hole_psnr']:.2f} dB); FID {ce['fid_vgg19_random']:.3f} "
                             f"vs {bh['fid_vgg19_random']:.3f}, sharpness {ce['sharpness_ratio']:.3f} vs {bh['sharpness_ratio']:.3f}. The adversarial "
                             f"term against L2 alone: hole PSNR {ce['hole_psnr'] - l2['hole_psnr']:+.2f} dB, FID "
                             f"{ce['fid_vgg19_random'] - l2['fid_vgg19_random']:+.3f}, sharpness {ce['sharpness_ratio'] - l2['sharpness_ratio']:+.3f}.")
    lines += ["", "Reproduce: `python benchmarks/restoration.py` (about an hour on 2 CPU cores; the trained runs stay in "
              "runs/bench-restoration/, and `--reuse` scores them again without training); `--from-rows` rewrites this page "
              "from benchmarks/rows/restoration.jsonl.", ""]
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--inpaint-steps", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lpips", help="LPIPS-VGG weights (.safetensors) for an LPIPS column")
    ap.add_argument("--runs", default=str(ROOT / "runs" / "bench-restoration"), help="where the trained runs are kept")
    ap.add_argument("--reuse", action="store_true", help="score finished runs found in --runs instead of training them again")
    ap.add_argument("--from-rows", action="store_true")
    args = ap.parse_args()
    import platform

    import torch

    torch.set_num_threads(args.threads)
    if args.from_rows:
        meta, rows = load_rows(ROWS)
    else:
        meta = {"date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}",
                "steps": args.steps, "inpaint_steps": args.inpaint_steps}
        runs = Path(args.runs)
        rows = sr_rows(args.steps, args.lpips, runs, args.reuse) + inpaint_rows(args.inpaint_steps, runs, args.reuse)
        save_rows(ROWS, meta, rows)
    write_page(rows, meta)
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
