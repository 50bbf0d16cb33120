"""Restoration side by side in one run (issue 18): super-resolution ×4 on the held-out photos and inpainting of
held-out patches, every row scored the same way, written to docs/benchmarks/restoration.md.

Super-resolution rows (trained on the 8 bundled training photos with the shipped presets, ``--steps`` each; scored on
the 2 held-out photos, chelsea and flower, whole, cropped to a multiple of 4 and downsampled by MATLAB's bicubic):

* bicubic (MATLAB kernel, no learning), SRResNet (pixel loss), SRGAN (SRResNet + content + adversarial),
  ESRGAN at α = 0 (its PSNR-oriented RRDB), 0.5 and 1 (the GAN) by network interpolation. The GANs spend the first
  half of their steps on the pixel loss (``sr.pretrain``), as both papers start from the PSNR model.

Columns: PSNR / SSIM on the Y channel with a border crop of 4 (the papers' convention) and on RGB; FID between the
64×64 patches (stride 32) of the restored and the original photos with the fixed random VGG19 (``vgg19-random``; few
patches, so the FID is biased upward and only its order means something); LPIPS when ``--lpips WEIGHTS`` is given.

Inpainting rows (64×64 test patches with free-form holes, the ``inpaint`` preset's data): the holed input, scikit-image's
biharmonic inpainting, the context encoder with λ_adv = 0 (L2 only: the paper's ablation) and with the paper's
0.999 / 0.001; columns hole L1, hole PSNR, whole-patch PSNR / SSIM, FID (vgg19-random) of completed patches.

    python benchmarks/restoration.py [--steps 1200] [--inpaint-steps 1500] [--threads 2] [--from-rows]
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

ROOT = Path(__file__).resolve().parents[1]
ROWS = ROOT / "benchmarks" / "rows" / "restoration.jsonl"
PAGE = ROOT / "docs" / "benchmarks" / "restoration.md"
QUIET = ["train.progress=false", "eval.metrics=[]", "health.monitor=false", "train.sample_every=100000000",
         "train.checkpoint_every=100000000"]
ANCHORS = [  # ×4, Y channel, PSNR / SSIM (Ledig et al. 2017 Table 2; Wang et al. 2018 Table 1 for RRDB)
    ("Set5", "bicubic", "28.42 / 0.810"), ("Set5", "SRResNet", "32.05 / 0.902"), ("Set5", "SRGAN", "29.40 / 0.847"),
    ("Set5", "RRDB (ESRGAN's PSNR model)", "32.73 / 0.901"), ("Set14", "SRResNet", "28.49 / —"), ("Set14", "SRGAN", "26.02 / —"),
]


def _patches(x, size: int = 64, stride: int = 32):  # noqa: ANN001, ANN202 - N×C×H×W -> M×C×size×size
    p = x.unfold(2, size, stride).unfold(3, size, stride)
    return p.permute(0, 2, 3, 1, 4, 5).reshape(-1, x.shape[1], size, size)


def sr_rows(steps: int, lpips_weights: str | None) -> list[dict]:
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

    def score(name: str, outs: list, extra: dict) -> dict:
        outs = [quantize(o.clamp(-1, 1)) for o in outs]
        per = [restoration_scores(o, hr, scale_crop=4) for o, hr in zip(outs, hrs)]
        row = {k: sum(p[k] for p in per) / len(per) for k in per[0]}
        row["fid_vgg19_random"] = float(fid(real_f, ext(torch.cat([_patches(o) for o in outs]))["features"]))
        if lp is not None:
            with torch.no_grad():
                row["lpips"] = float(sum(lp(o, hr).mean() for o, hr in zip(outs, hrs)) / len(outs))
        return {"kind": "sr", "row": name, **row, **extra}

    rows = [score("bicubic (MATLAB kernel)", [bicubic_upscale(lr, 4) for lr in lrs], {"train_s": 0.0, "params": 0})]
    with tempfile.TemporaryDirectory() as tmp:
        for preset, label in (("srresnet", "SRResNet (MSE)"), ("srgan", "SRGAN"), ("esrgan", "ESRGAN")):
            t0 = time.perf_counter()
            pre = [] if preset == "srresnet" else [f"sr.pretrain={steps // 2}"]  # the GANs: the first half on the pixel loss
            summary = api.train(preset, out=Path(tmp) / preset, overrides=[f"train.steps={steps}", *pre, *QUIET])
            wall = time.perf_counter() - t0
            pipe = api.load(Path(tmp) / preset)
            params = sum(p.numel() for p in (pipe.module.gan if hasattr(pipe.module, "gan") else pipe.module).parameters())
            extra = {"train_s": round(wall, 1), "params": params, "steps": summary["step"]}
            if preset == "esrgan":
                for alpha in (0.0, 0.5, 1.0):
                    rows.append(score(f"ESRGAN α = {alpha:g}" + (" (its PSNR model)" if alpha == 0 else " (the GAN)" if alpha == 1 else ""),
                                      [pipe(lr, alpha=alpha) for lr in lrs], extra))
            else:
                rows.append(score(label, [pipe(lr) for lr in lrs], extra))
            print(json.dumps(rows[-1]), flush=True)
    return rows


def inpaint_rows(steps: int, n: int = 256) -> list[dict]:
    from gankit import api
    from gankit.data import build_dataset
    from gankit.data.photos import eval_pairs
    from gankit.metrics.features import build_extractor
    from gankit.metrics.fid import fid
    from gankit.metrics.pair_scores import hole_scores
    from gankit.metrics.restoration import restoration_scores
    from gankit.models.classical import biharmonic_inpaint

    cfg = api.resolve_config("inpaint")
    pairs = eval_pairs(build_dataset(cfg.data, "test"), n, 0)
    x, inp, mask = pairs["x"], pairs["input"], pairs["mask"]
    ext = build_extractor("vgg19-random")
    real_f = ext(x)["features"]

    def score(name: str, out, extra: dict) -> dict:  # noqa: ANN001
        from gankit.data.images import quantize

        out = quantize(out.clamp(-1, 1))
        return {"kind": "inpaint", "row": name, **hole_scores(out, x, mask), **restoration_scores(out, x, scale_crop=0),
                "fid_vgg19_random": float(fid(real_f, ext(out)["features"])), "hole_fraction": float(mask.mean()), **extra}

    t0 = time.perf_counter()
    rows = [score("holed input (hole = mid-grey)", inp, {"train_s": 0.0}),
            score("biharmonic (scikit-image)", biharmonic_inpaint(inp, mask), {"train_s": 0.0, "fill_s": round(time.perf_counter() - t0, 1)})]
    with tempfile.TemporaryDirectory() as tmp:
        for label, over in (("context encoder, L2 only (λ_adv = 0)", ["inpaint.adv=0"]), ("context encoder (0.999 L2 + 0.001 adv)", [])):
            t0 = time.perf_counter()
            api.train("inpaint", out=Path(tmp) / "run", overrides=[f"train.steps={steps}", *QUIET, *over])
            wall = time.perf_counter() - t0
            pipe = api.load(Path(tmp) / "run")
            rows.append(score(label, pipe(inp, masks=mask), {"train_s": round(wall, 1)}))
            print(json.dumps(rows[-1]), flush=True)
            import shutil

            shutil.rmtree(Path(tmp) / "run")
    return rows


def _f(v: float, d: int = 2) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else ("∞" if v == math.inf else f"{v:.{d}f}")


def write_page(rows: list[dict], meta: dict) -> None:
    sr = [r for r in rows if r["kind"] == "sr"]
    ip = [r for r in rows if r["kind"] == "inpaint"]
    has_lpips = any("lpips" in r for r in sr)
    lines = [
        "# Restoration: super-resolution and inpainting on the held-out photos",
        "",
        f"Written by `benchmarks/restoration.py` on {meta['date']} ({meta['machine']}); {meta['steps']} training steps per SR model, "
        f"{meta['inpaint_steps']} per inpainting model, the shipped presets (CPU-sized networks, 64-pixel patches, batch 16), one seed. "
        "Training data: the 8 bundled training photos; every number below is on photos or patches never trained on.",
        "",
        "## Super-resolution ×4 (chelsea and flower, whole photos)",
        "",
        "Low-resolution inputs: the originals cropped to a multiple of 4 and downsampled by MATLAB's bicubic `imresize` "
        "(a = −0.5, antialiased; `gankit.data.degrade.imresize`), rounded to 8 bits. **PSNR / SSIM (Y)**: BT.601 luma of the "
        "8-bit images, 4 pixels cropped from each border — the SR papers' convention (BasicSR's `calculate_psnr`/`calculate_ssim` "
        "with `test_y_channel=True, crop_border=4`). **RGB**: all three channels, same crop. **FID (random VGG19)**: Fréchet "
        "distance between 64×64 patches (stride 32) of the restored and the original photos in the 512-d pooled relu5_4 "
        "features of a fixed random VGG19 (`vgg19-random`, Naeem et al. 2020's random embedding); lower is closer to real "
        "texture statistics. With a few hundred patches it is biased upward: compare rows, not with published FIDs.",
        "",
        "| row | PSNR Y | SSIM Y | PSNR RGB | SSIM RGB | FID (random VGG19) |" + (" LPIPS |" if has_lpips else "") + " params | train s |",
        "|---|---:|---:|---:|---:|---:|" + ("---:|" if has_lpips else "") + "---:|---:|",
    ]
    for r in sr:
        lines.append(f"| {r['row']} | {_f(r['psnr_y'])} | {_f(r['ssim_y'], 3)} | {_f(r['psnr_rgb'])} | {_f(r['ssim_rgb'], 3)} | "
                     f"{_f(r['fid_vgg19_random'], 1)} |" + (f" {_f(r.get('lpips'), 3)} |" if has_lpips else "")
                     + f" {r['params']:,} | {r['train_s']:.0f} |")
    by = {r["row"]: r for r in sr}
    bic = by.get("bicubic (MATLAB kernel)")
    srr = by.get("SRResNet (MSE)")
    gan = [r for r in sr if r["row"].startswith(("SRGAN", "ESRGAN α = 1"))]
    lines += ["", "What this run shows:", ""]
    if bic and srr:
        lines.append(f"- SRResNet {'beats' if srr['psnr_y'] > bic['psnr_y'] else 'does not beat'} bicubic on Y-PSNR: "
                     f"{srr['psnr_y']:.2f} vs {bic['psnr_y']:.2f} dB ({srr['psnr_y'] - bic['psnr_y']:+.2f} dB; the paper on Set5: +3.63 dB "
                     "after 10⁶ updates of a network 5× larger).")
    for g in gan:
        if srr:
            lines.append(f"- {g['row']}: Y-PSNR {g['psnr_y'] - srr['psnr_y']:+.2f} dB and FID {g['fid_vgg19_random'] - srr['fid_vgg19_random']:+.1f} "
                         "against SRResNet — the perception–distortion trade-off (Blau & Michaeli 2018) "
                         + ("shows (PSNR down, FID down)." if g['psnr_y'] < srr['psnr_y'] and g['fid_vgg19_random'] < srr['fid_vgg19_random']
                            else "does not fully show at this size (see the numbers)."))
    es = [by.get(k) for k in ("ESRGAN α = 0 (its PSNR model)", "ESRGAN α = 0.5", "ESRGAN α = 1 (the GAN)")]
    if all(es):
        lines.append(f"- Network interpolation moves along the curve: Y-PSNR {es[0]['psnr_y']:.2f} → {es[1]['psnr_y']:.2f} → "
                     f"{es[2]['psnr_y']:.2f} dB and FID {es[0]['fid_vgg19_random']:.1f} → {es[1]['fid_vgg19_random']:.1f} → "
                     f"{es[2]['fid_vgg19_random']:.1f} for α = 0, 0.5, 1.")
    lines += ["", "Published anchors (×4, Y channel, PSNR / SSIM; different test images, full-size networks, 10⁵–10⁶ updates on "
              "ImageNet / DIV2K) — for context only:", "", "| set | model | PSNR / SSIM |", "|---|---|---|"]
    lines += [f"| {s} | {m} | {v} |" for s, m, v in ANCHORS]
    lines += ["", "## Inpainting (256 held-out 64×64 patches, free-form holes)", "",
              "Holes from DeepFill v2's stroke generator (`gankit.data.masks.free_form`), "
              f"{100 * ip[0]['hole_fraction']:.1f} % of the pixels on average. Every row keeps the known pixels unchanged. "
              "**Hole L1**: mean absolute error over the hole in [-1, 1] units; **hole PSNR**: over the hole's 8-bit pixels; "
              "PSNR / SSIM (Y, no crop) over whole patches; FID as above on the completed patches.", "",
              "| row | hole L1 | hole PSNR | PSNR Y | SSIM Y | FID (random VGG19) | train s |", "|---|---:|---:|---:|---:|---:|---:|"] if ip else []
    for r in ip:
        lines.append(f"| {r['row']} | {_f(r['hole_l1'], 3)} | {_f(r['hole_psnr'])} | {_f(r['psnr_y'])} | {_f(r['ssim_y'], 3)} | "
                     f"{_f(r['fid_vgg19_random'], 1)} | {r['train_s']:.0f} |")
    ib = {r["row"]: r for r in ip}
    bh, ce = ib.get("biharmonic (scikit-image)"), ib.get("context encoder (0.999 L2 + 0.001 adv)")
    if bh and ce:
        lines += ["", f"- The context encoder {'beats' if ce['hole_psnr'] > bh['hole_psnr'] else 'does not beat'} the biharmonic "
                  f"baseline on hole PSNR ({ce['hole_psnr']:.2f} vs {bh['hole_psnr']:.2f} dB) and "
                  f"{'has the lower' if ce['fid_vgg19_random'] < bh['fid_vgg19_random'] else 'does not have the lower'} FID "
                  f"({ce['fid_vgg19_random']:.1f} vs {bh['fid_vgg19_random']:.1f})."]
    lines += ["", "Reproduce: `python benchmarks/restoration.py` (about half an hour on 2 CPU cores); `--from-rows` rewrites this "
              "page from benchmarks/rows/restoration.jsonl.", ""]
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--inpaint-steps", type=int, default=1500)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lpips", help="LPIPS-VGG weights (.safetensors) for an LPIPS column")
    ap.add_argument("--from-rows", action="store_true")
    args = ap.parse_args()
    import platform

    import torch

    torch.set_num_threads(args.threads)
    if args.from_rows:
        doc = [json.loads(line) for line in ROWS.read_text().splitlines() if line.strip()]
        meta, rows = doc[0], doc[1:]
    else:
        meta = {"date": dt.date.today().isoformat(), "machine": f"{platform.machine()}, {args.threads} threads, torch {torch.__version__}",
                "steps": args.steps, "inpaint_steps": args.inpaint_steps}
        rows = sr_rows(args.steps, args.lpips) + inpaint_rows(args.inpaint_steps)
        ROWS.parent.mkdir(parents=True, exist_ok=True)
        ROWS.write_text("\n".join(json.dumps(r) for r in [meta, *rows]) + "\n")
    write_page(rows, meta)
    print(f"wrote {PAGE}")


if __name__ == "__main__":
    main()
