"""``gankit`` command line: parse, call the API, print, exit code.

Exit codes: 0 done, 2 bad usage / config / input, 3 stopped by the divergence guard, 130 interrupted.
"""
from __future__ import annotations

import argparse
import sys
from typing import Sequence


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, exit code 2
        self.exit(2, f"gankit: error: {message} (see gankit {self.prog.split()[-1]} --help)\n" if " " in self.prog
                  else f"gankit: error: {message} (see gankit --help)\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="gankit", description="Train, evaluate and diagnose GANs.")
    p.add_argument("--version", action="store_true", help="print the version and exit")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    t = sub.add_parser("train", help="train a GAN", description="Train from a preset or a config file; "
                       "override any field with section.key=value (see gankit list --config).")
    src = t.add_mutually_exclusive_group()
    src.add_argument("--preset", help="a shipped recipe (gankit presets); default digits")
    src.add_argument("--config", help="a .yaml / .json config, or RUN/config.json to re-create a run")
    src.add_argument("--resume", metavar="RUN", help="continue RUN from its latest checkpoint")
    t.add_argument("--out", help="run directory to create (default runs/<name>-<time>)")
    t.add_argument("overrides", nargs="*", metavar="key.sub=value", help="config overrides, e.g. train.lr_d=4e-4")

    s = sub.add_parser("sample", help="draw samples from a trained generator")
    s.add_argument("run", metavar="RUN|GENERATOR_DIR")
    s.add_argument("--n", type=int, default=64, help="number of samples (default 64)")
    s.add_argument("--out", required=True, help="FILE.npy (data space) or FILE.png (grid / scatter)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--class", dest="label", type=int, help="class for a conditional generator (default: all in turn)")

    sub.add_parser("presets", help="list the shipped presets")
    lst = sub.add_parser("list", help="list the registries (datasets, models, losses, ...)")
    lst.add_argument("--config", action="store_true", help="list every config field with its default instead")
    return p


def _cmd_train(args: argparse.Namespace) -> int:
    from . import api

    if args.resume and args.out:
        raise SystemExit("gankit: error: --resume continues RUN in place; drop --out")
    summary = api.train(args.preset, config=args.config, out=args.out, overrides=args.overrides, resume=args.resume)
    run = summary["run_dir"]
    print(f"done: {summary['step']} steps, {summary['images_seen']} images shown, {summary['wall_s']:.0f} s")
    print(f"run directory: {run}")
    print(f"  samples:   {run}/samples/   (latest: the highest step)")
    print(f"  metrics:   {run}/metrics.jsonl")
    print(f"  generator: {run}/generator/  (gankit sample {run} --n 64 --out samples.png)")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from . import api

    G = api.load(args.run)
    x = api.generate(G, args.n, seed=args.seed, labels=args.label)
    data = G.gankit_meta.get("data", {})
    nrow = data.get("num_classes") if (G.c_dim and args.label is None) else None
    out = api.save_samples(x, args.out, nrow=nrow, centers=data.get("centers"))
    print(f"wrote {args.n} samples to {out}")
    return 0


def _cmd_presets(args: argparse.Namespace) -> int:
    from .config import preset_dict, preset_names

    names = preset_names()
    width = max(map(len, names))
    for name in names:
        print(f"{name:<{width}}  {preset_dict(name).get('description', '')}")
    return 0


def _cmd_list(args: argparse.Namespace) -> int:
    import gankit  # noqa: F401  (fills the registries)

    from .config import describe_fields
    from .registry import all_registries

    if args.config:
        for key, tp, default, help_text in describe_fields():
            print(f"{key:<24} {tp:<16} {default!r:<12} {help_text}")
        return 0
    for kind, reg in all_registries().items():
        print(f"{kind}:")
        for e in reg.entries():
            print(f"  {e.name:<16} {e.help}")
    return 0


COMMANDS = {"train": _cmd_train, "sample": _cmd_sample, "presets": _cmd_presets, "list": _cmd_list}


def main(argv: Sequence[str] | None = None) -> int:
    from .errors import GankitError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from . import __version__

        print(__version__)
        return 0
    if not args.command:
        parser.print_help()
        return 2
    try:
        return COMMANDS[args.command](args)
    except GankitError as e:
        print(f"gankit: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("gankit: interrupted", file=sys.stderr)
        return 130
    except Exception as e:  # Interrupted from the loop: the step finished and a checkpoint was written
        if type(e).__name__ == "Interrupted":
            print(f"gankit: {e}", file=sys.stderr)
            return 130
        raise


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
