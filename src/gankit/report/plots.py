"""Matplotlib figures of a run's metrics, returned as PNG bytes (Agg backend; nothing touches a display).

:func:`curves_png` draws one figure with a shared step axis: losses, D's raw outputs on real and fake
batches, D's accuracy, gradient norms, any other logged statistic, then one panel per evaluation metric.
Health events, rollbacks and early stops are drawn as vertical lines on every panel, so a jump in a curve
can be read against what the run did about it. Several runs (``gankit compare``) share the same axes, one
colour per run and one line style per statistic.
"""
from __future__ import annotations

import io
import math
from typing import Any, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

from .rundir import QUIET_EVENTS, Run  # noqa: E402

STYLES = ("-", "--", ":", "-.")
_PLAIN = FuncFormatter(lambda v, _: f"{v:g}")
_PLAIN_MINOR = FuncFormatter(lambda v, _: f"{v:g}" if f"{v:.1e}"[0] in "25" else "")  # label 2s and 5s only
#: log fields drawn elsewhere (timing) or not at all
_NOT_CURVES = {"img_s", "lr_g", "lr_d"}
_EVENT_COLOURS = {"rollback": "tab:red", "diverged": "tab:red", "early_stop": "black", "health": "tab:orange",
                  "resume": "tab:green"}
MAX_EVAL_PANELS = 8


def fig_png(fig: Figure, dpi: int = 100) -> bytes:
    """Render and close ``fig``; PNG bytes without the software tag (no URLs anywhere in the report)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    plt.close(fig)
    return buf.getvalue()


def panels_of(names: Sequence[str]) -> list[tuple[str, list[str], bool]]:
    """Group log statistic names into (title, names, log_y) panels; unknown names go to "other statistics"."""
    names = [n for n in names if n not in _NOT_CURVES and not n.startswith("lr_")]  # learning rates: every optimizer's
    groups: list[tuple[str, list[str], bool]] = [
        ("ELBO and its terms (nats per sample)", [n for n in names if n in ("elbo", "recon", "kl")], False),
        ("bits per dimension (−ELBO bound)", [n for n in names if n == "bpd"], False),
        ("losses", [n for n in names if "loss" in n], False),
        ("D raw output (mean over batch)", [n for n in names if n in ("d_real", "d_fake")], False),
        ("D accuracy", [n for n in names if n.startswith("d_acc")], False),
        ("gradient norms", [n for n in names if "grad_norm" in n], True),
    ]
    used = {n for _, ns, _ in groups for n in ns}
    groups.append(("other statistics", [n for n in names if n not in used], False))
    return [g for g in groups if g[1]]


def _positive(values: list[float]) -> bool:
    return all(v > 0 for v in values if math.isfinite(v))


def curves_png(runs: Sequence[tuple[str, Run]], width: float = 11.0) -> bytes | None:
    """The training-curves figure for one or more (label, run) pairs; None when nothing was logged.

    Training statistics on the left, evaluation metrics (when any) beside them on the right; every panel
    shares the same step axis.
    """
    logs = [r.series("log") for _, r in runs]
    evals = [r.series("eval") for _, r in runs]
    names = list(dict.fromkeys(k for s in logs for k in s))
    eval_names = list(dict.fromkeys(k for s in evals for k in s if any(math.isfinite(v) for v in s[k][1])))
    eval_names = eval_names[:MAX_EVAL_PANELS]
    left = [(t, ns, lg, "log") for t, ns, lg in panels_of(names)]
    right = [(f"eval: {n}", [n], False, "eval") for n in eval_names]
    if not left and not right:
        return None
    many = len(runs) > 1
    # evaluation panels two abreast when there are more of them than training panels
    eval_cols = 2 if left and len(right) > max(len(left), 3) else 1
    rows = max(len(left), -(-len(right) // eval_cols), 1)
    height = 1.9 * rows + (1.0 if many else 0.6)
    fig = plt.figure(figsize=(width, height))
    # Fixed margins (inches -> figure fractions) instead of a layout engine: several times faster, same look.
    top, bottom = 1 - (0.75 if many else 0.3) / height, 0.5 / height
    # room on the right of each column for its legends (statistic names); eval panels need none
    if left and right:
        boxes = [(left, 1, 0.065, 0.40), (right, eval_cols, 0.56, 0.985)]
    else:
        boxes = [(left or right, eval_cols if right else 1, 0.065, 0.84 if left else 0.985)]
    base = None
    for column, ncols, x0, x1 in boxes:
        gs = fig.add_gridspec(rows, ncols, left=x0, right=x1, top=top, bottom=bottom, hspace=0.42, wspace=0.22)
        for i, panel in enumerate(column):
            ax = fig.add_subplot(gs[i // ncols, i % ncols], sharex=base)
            base = base or ax
            _draw_panel(ax, panel, runs, logs, evals)
            if i + ncols < len(column):  # something below it: the step labels are on the bottom panel
                ax.tick_params(labelbottom=False)
            else:
                ax.set_xlabel("step (G updates)", fontsize=9)
    if many:
        colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
        handles = [Line2D([], [], color=colours[i % len(colours)], lw=2) for i in range(len(runs))]
        fig.legend(handles, [label for label, _ in runs], loc="upper center", ncol=min(len(runs), 5),
                   fontsize=9, frameon=False, bbox_to_anchor=(0.5, 1 - 0.05 / height))
    return fig_png(fig)


def _draw_panel(ax: Any, panel: tuple[str, list[str], bool, str], runs: Sequence[tuple[str, Run]],
                logs: list[dict], evals: list[dict]) -> None:
    """One panel: its statistics for every run (colour = statistic for one run, = run for several)."""
    title, series_names, log_y, source = panel
    many = len(runs) > 1
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    positive = True
    for ri, (label, _run) in enumerate(runs):
        data = logs[ri] if source == "log" else evals[ri]
        for si, name in enumerate(series_names):
            if name not in data:
                continue
            xs, ys = data[name]
            positive = positive and _positive(ys)
            colour = colours[ri % len(colours)] if many else colours[si % len(colours)]
            style = STYLES[si % len(STYLES)] if many else "-"
            marker = "o" if source == "eval" or len(xs) < 3 else None
            ax.plot(xs, ys, style, color=colour, marker=marker, ms=3.5, lw=1.3,
                    label=(label if si == 0 else None) if many else name)
    if log_y and positive:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(_PLAIN)
        ax.yaxis.set_minor_formatter(_PLAIN_MINOR)
    ax.set_title(title, fontsize=10, loc="left")
    ax.grid(alpha=0.3)
    ax.tick_params(which="both", labelsize=8)
    if title == "losses":
        _equilibrium_lines(ax, runs, series_names)
    outside = {"loc": "upper left", "bbox_to_anchor": (1.005, 1.0), "fontsize": 8, "frameon": False}
    if many and len(series_names) > 1:  # line styles name the statistics; colours name the runs
        ax.legend([Line2D([], [], color="0.2", ls=STYLES[i % len(STYLES)]) for i in range(len(series_names))],
                  series_names, **outside)
    elif not many and len(series_names) > 1:  # a single statistic is named by the panel title
        ax.legend(**outside)
    _mark_events(ax, runs)


#: the losses' values at the GAN equilibrium p_g = p_data, D = 1/2 (Goodfellow et al. 2014)
EQUILIBRIUM = {"nsgan": {"d_loss": 2 * math.log(2), "g_loss": math.log(2)},
               "minimax": {"d_loss": 2 * math.log(2), "g_loss": -math.log(2)}}


def _equilibrium_lines(ax: Any, runs: Sequence[tuple[str, Run]], names: Sequence[str]) -> None:
    """Faint dotted lines where the losses sit at the equilibrium, when every run uses the same such loss."""
    losses = {str(r.config.get("loss", {}).get("name", "")) for _, r in runs}
    if len(losses) != 1 or (loss := losses.pop()) not in EQUILIBRIUM:
        return
    for name, value in EQUILIBRIUM[loss].items():
        if name in names:
            ax.axhline(value, color="0.4", lw=0.8, ls=":")
            ax.annotate(f"{name} at equilibrium", (0.995, value), xycoords=("axes fraction", "data"), fontsize=7,
                        color="0.35", va="bottom", ha="right")


def _mark_events(ax: Any, runs: Sequence[tuple[str, Run]]) -> None:
    """Vertical lines at the steps of health / rollback / early-stop (and any other notable) events."""
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    xs, cs = [], []
    for ri, (_label, run) in enumerate(runs):
        for e in run.other_events():
            step = e.get("step")
            if e["event"] in QUIET_EVENTS or not isinstance(step, (int, float)) or isinstance(step, bool):
                continue
            # one run: the colour says what happened; several: which run it happened to
            xs.append(step)
            cs.append(colours[ri % len(colours)] if len(runs) > 1 else _EVENT_COLOURS.get(e["event"], "tab:purple"))
    if xs:  # vlines in axes-fraction y: no autoscaling of y (axvline would ask for the limits of shared axes)
        ax.vlines(xs, 0, 1, transform=ax.get_xaxis_transform(), colors=cs, lw=0.9, linestyles="--", alpha=0.7)


def throughput_png(runs: Sequence[tuple[str, Run]]) -> bytes | None:
    """Images per second (real images shown to D) over steps; None when not logged."""
    data = [(label, r.series("log").get("img_s")) for label, r in runs]
    data = [(label, s) for label, s in data if s]
    if not data:
        return None
    fig, ax = plt.subplots(figsize=(7, 2.4), layout="constrained")
    for label, (xs, ys) in data:
        ax.plot(xs, ys, lw=1.3, marker="o" if len(xs) < 3 else None, ms=3, label=label)
    ax.set_xlabel("step (G updates)", fontsize=9)
    ax.set_ylabel("images / s", fontsize=9)
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=8)
    if len(data) > 1:
        ax.legend(fontsize=7)
    return fig_png(fig)
