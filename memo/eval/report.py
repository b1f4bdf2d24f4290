"""The report of an evaluation run: summary.json, summary.md and PNG plots, all from results.jsonl alone.

Per condition and method: mean and standard deviation over runs of each run's mean score (EM, F1, containment,
judge), the breakdown by hop count, per-hop accuracy of the gold chains (each step asked with the gold earlier
answers), and cost per question (executive and memory calls, prompt and completion tokens, wall seconds).
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable

from ..formats import EVAL_FORMAT, EVAL_SUMMARY_FILE, EVAL_SUMMARY_MD
from ..llm import ChatModel
from ..paths import atomic_write_json, atomic_write_text
from .judge import judge_reliability

METRICS = ("em", "f1", "contains", "judge")
COSTS = ("executive_calls", "executive_prompt_tokens", "executive_completion_tokens", "memory_questions",
         "memory_answered", "seconds")


def _mean(values: Iterable[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def _mean_std(per_run: list[float | None]) -> dict[str, float] | None:
    vals = [v for v in per_run if v is not None]
    if not vals:
        return None
    return {"mean": round(statistics.fmean(vals), 4),
            "std": round(statistics.stdev(vals), 4) if len(vals) > 1 else 0.0, "runs": len(vals)}


def summarize(rows: list[dict], manifest: dict, builds: dict[str, dict], judge_note: str | None) -> dict[str, Any]:
    """The summary of `rows` (results.jsonl rows)."""
    grouped: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        grouped[row["condition"]][row["method"]].append(row)
    method_order = [m for m in manifest.get("methods", []) if any(m in g for g in grouped.values())]
    conditions: dict[str, Any] = {}
    for cond in sorted(grouped, key=lambda c: int(c.rsplit("-", 1)[1])):
        methods = {}
        for method in method_order:
            mrows = grouped[cond].get(method)
            if not mrows:
                continue
            by_run: dict[int, list[dict]] = defaultdict(list)
            for r in mrows:
                by_run[r["run"]].append(r)
            entry: dict[str, Any] = {"questions": len({r["example"] for r in mrows}), "runs": len(by_run)}
            for metric in METRICS:
                entry[metric] = _mean_std([_mean(r["scores"].get(metric) for r in rs) for rs in by_run.values()])
            by_hops: dict[str, Any] = {}
            for hops in sorted({r["hops"] for r in mrows}):
                hr = [r for r in mrows if r["hops"] == hops]
                by_hops[str(hops)] = {"questions": len({r["example"] for r in hr}),
                                      **{m: _round(_mean(r["scores"].get(m) for r in hr)) for m in METRICS}}
            entry["by_hops"] = by_hops
            hop_rows = [h for r in mrows for h in r["detail"].get("hops", [])]
            if hop_rows:
                entry["hop_accuracy"] = {"steps": len(hop_rows),
                                         **{m: _round(_mean(h["scores"][m] for h in hop_rows)) for m in METRICS[:3]}}
            entry["cost_per_question"] = {k: _round(_mean(r["cost"].get(k) for r in mrows)) for k in COSTS
                                          if any(k in r["cost"] for r in mrows)}
            methods[method] = entry
        conditions[cond] = methods
    summary: dict[str, Any] = {
        "format": EVAL_FORMAT, "dataset": manifest["dataset"], "executive": manifest["executive"],
        "judge": {"model": manifest["judge"], "note": judge_note}, "lead_metric": lead_metric(manifest, judge_note),
        "memory": manifest.get("memory") or "built per condition (see build)", "settings": manifest["settings"],
        "conditions": conditions, "build": builds,
    }
    if len(conditions) > 1:
        base, noisy = sorted(conditions, key=lambda c: int(c.rsplit("-", 1)[1]))[:2]
        summary["distractor_change"] = {
            m: {k: _round(conditions[noisy][m][k]["mean"] - conditions[base][m][k]["mean"]) for k in METRICS
                if conditions[base][m].get(k) and conditions[noisy].get(m, {}).get(k)}
            for m in conditions[base] if m in conditions[noisy]}
    return summary


def lead_metric(manifest: dict, judge_note: str | None) -> str:
    """The judge when there is a trustworthy one, F1 otherwise."""
    return "judge" if manifest.get("judge") and judge_note is None else "f1"


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 4)


def _pct(stat: dict | float | None) -> str:
    if stat is None:
        return "-"
    if isinstance(stat, dict):
        return f"{100 * stat['mean']:.1f}" + (f" ± {100 * stat['std']:.1f}" if stat["runs"] > 1 else "")
    return f"{100 * stat:.1f}"


def _num(v: float | None, digits: int = 1) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


def markdown(summary: dict[str, Any]) -> str:
    """summary.md: the tables, in the order a reader needs them."""
    lead = summary["lead_metric"]
    order = ["judge", "em", "f1", "contains"] if lead == "judge" else ["em", "f1", "contains", "judge"]
    names = {"em": "EM", "f1": "F1", "contains": "contains", "judge": "judge"}
    lines = [f"# Evaluation: {summary['dataset']}", "",
             f"- executive / reader: `{summary['executive']}`", f"- judge: `{summary['judge']['model']}`",
             f"- memory: {summary['memory']}", f"- settings: top-k {summary['settings']['top_k']}, "
             f"distractors {summary['settings']['distractors']}, seed {summary['settings']['seed']}"]
    if summary["judge"]["note"]:
        lines += ["", f"**Note:** {summary['judge']['note']}."]
    lines += ["", "Scores in %, mean ± standard deviation over runs; EM and F1 with SQuAD normalisation, the maximum "
              "over the answer aliases. Gold-chain methods: the chain's final answer; per-hop F1 asks each step with "
              "the gold earlier answers."]
    for cond, methods in summary["conditions"].items():
        lines += ["", f"## {cond}", "", "| method | questions | " + " | ".join(names[m] for m in order)
                  + " | per-hop F1 | executive calls/q | prompt tok/q | completion tok/q | memory questions/q | s/q |",
                  "|---|---|" + "---|" * (len(order) + 6)]
        for method, e in methods.items():
            c = e["cost_per_question"]
            lines.append(f"| {method} | {e['questions']} | " + " | ".join(_pct(e[m]) for m in order)
                         + f" | {_pct(e.get('hop_accuracy', {}).get('f1'))} | {_num(c.get('executive_calls'))}"
                         f" | {_num(c.get('executive_prompt_tokens'), 0)} | {_num(c.get('executive_completion_tokens'), 0)}"
                         f" | {_num(c.get('memory_questions'))} | {_num(c.get('seconds'))} |")
        hops = sorted({h for e in methods.values() for h in e["by_hops"]}, key=int)
        if len(hops) > 1:
            key = order[0]
            lines += ["", f"{names[key]} by hop count:", "", "| method | " + " | ".join(f"{h} hops" for h in hops)
                      + " |", "|---|" + "---|" * len(hops)]
            for method, e in methods.items():
                lines.append(f"| {method} | " + " | ".join(_pct(e["by_hops"].get(h, {}).get(key)) for h in hops) + " |")
    if "distractor_change" in summary:
        lines += ["", "## Change with distractors (points, noisy minus clean)", "",
                  "| method | " + " | ".join(names[m] for m in order) + " |", "|---|" + "---|" * len(order)]
        for method, d in summary["distractor_change"].items():
            lines.append(f"| {method} | " + " | ".join("-" if d.get(m) is None else f"{100 * d[m]:+.1f}" for m in order)
                         + " |")
    if summary["build"]:
        lines += ["", "## Memory build", "", "| condition | reflect s | pairs | generator tokens | train s | epochs |",
                  "|---|---|---|---|---|---|"]
        for cond, b in summary["build"].items():
            rf, tr = b.get("reflect", {}), b.get("train", {})
            tokens = rf.get("tokens", {})
            lines.append(f"| {cond} | {_num(rf.get('wall_seconds'))} | {rf.get('pairs', '-')} | "
                         f"{tokens.get('prompt', 0) + tokens.get('completion', 0) if tokens else '-'} | "
                         f"{_num(tr.get('wall_seconds'))} | {tr.get('epochs', '-')} |")
    lines += ["", "Plots: " + ", ".join(f"[{p}]({p})" for p in summary.get("plots", []))]
    return "\n".join(lines) + "\n"


def plot(summary: dict[str, Any], out: Path) -> list[str]:
    """PNG plots next to the summary; returns their file names."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    files: list[str] = []
    cond = next(iter(summary["conditions"]), None)
    if cond is None:
        return files
    methods = summary["conditions"][cond]
    names = list(methods)
    metrics = [m for m in ("em", "f1", "contains", "judge") if any(methods[n].get(m) for n in names)]

    def save(fig, name: str) -> None:
        fig.tight_layout()
        fig.savefig(out / name, dpi=120)
        plt.close(fig)
        files.append(name)

    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names) + 2), 4))
    width = 0.8 / max(1, len(metrics))
    for i, m in enumerate(metrics):
        vals = [100 * (methods[n][m]["mean"] if methods[n].get(m) else 0) for n in names]
        errs = [100 * (methods[n][m]["std"] if methods[n].get(m) else 0) for n in names]
        ax.bar([x + i * width for x in range(len(names))], vals, width, yerr=errs, label=m.upper() if m != "contains" else m)
    ax.set_xticks([x + width * (len(metrics) - 1) / 2 for x in range(len(names))], names, rotation=30, ha="right")
    ax.set_ylabel("%")
    ax.set_ylim(0, 100)
    ax.set_title(f"accuracy by method ({cond})")
    ax.legend()
    save(fig, "accuracy_by_method.png")

    key = summary["lead_metric"]
    hops = sorted({h for e in methods.values() for h in e["by_hops"]}, key=int)
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(names) + 2), 4))
    width = 0.8 / max(1, len(hops))
    for i, h in enumerate(hops):
        vals = [100 * (methods[n]["by_hops"].get(h, {}).get(key) or 0) for n in names]
        ax.bar([x + i * width for x in range(len(names))], vals, width, label=f"{h} hops")
    ax.set_xticks([x + width * (len(hops) - 1) / 2 for x in range(len(names))], names, rotation=30, ha="right")
    ax.set_ylabel(f"{key} %")
    ax.set_ylim(0, 100)
    ax.set_title(f"{key} by hop count ({cond})")
    ax.legend()
    save(fig, "accuracy_by_hops.png")

    fig, (ax1, ax3, ax2) = plt.subplots(1, 3, figsize=(max(10, 2 * len(names) + 4), 4))
    cost = [methods[n]["cost_per_question"] for n in names]
    ax1.bar(names, [c.get("executive_prompt_tokens") or 0 for c in cost], label="prompt")
    ax1.bar(names, [c.get("executive_completion_tokens") or 0 for c in cost],
            bottom=[c.get("executive_prompt_tokens") or 0 for c in cost], label="completion")
    ax1.set_ylabel("executive tokens per question")
    ax1.legend()
    ax3.bar(names, [c.get("memory_questions") or 0 for c in cost], color="tab:green")
    ax3.set_ylabel("memory questions per question")
    ax2.bar(names, [c.get("seconds") or 0 for c in cost], color="tab:gray")
    ax2.set_ylabel("wall seconds per question")
    for ax in (ax1, ax3, ax2):
        ax.tick_params(axis="x", rotation=30)
        for label in ax.get_xticklabels():
            label.set_horizontalalignment("right")
    fig.suptitle(f"cost per method ({cond})")
    save(fig, "cost_by_method.png")

    if "distractor_change" in summary:
        clean, noisy = list(summary["conditions"])[:2]
        both = [n for n in names if n in summary["conditions"][noisy]]
        fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(both) + 2), 4))
        for i, c in enumerate((clean, noisy)):
            vals = [100 * ((summary["conditions"][c][n].get(key) or {}).get("mean") or 0) for n in both]
            ax.bar([x + i * 0.4 for x in range(len(both))], vals, 0.4, label=c)
        ax.set_xticks([x + 0.2 for x in range(len(both))], both, rotation=30, ha="right")
        ax.set_ylabel(f"{key} %")
        ax.set_ylim(0, 100)
        ax.set_title("distractors: clean vs noisy corpus")
        ax.legend()
        save(fig, "distractors.png")
    return files


def write_report(out: Path, rows: list[dict], manifest: dict, builds: dict[str, dict],
                 judge: ChatModel | None) -> dict[str, Any]:
    """Write summary.json, the plots and summary.md into `out`; returns the summary."""
    note = judge_reliability(judge) if judge is not None else None
    summary = summarize(rows, manifest, builds, note)
    summary["plots"] = plot(summary, out) if rows else []
    atomic_write_json(out / EVAL_SUMMARY_FILE, summary)
    atomic_write_text(out / EVAL_SUMMARY_MD, markdown(summary))
    return summary
