"""The faithfulness suite's published reports (issue 23): per model and filler the JSON, web page
and picture, and the README table beside the reference's LLaMA-3.2-1B numbers.

The measurements are ``jscope faithfulness`` / ``jscope sanity`` runs (their commands are on
``docs/content/results/faithfulness-suite.md``); this script turns a run's resumable sidecar
(``FILE.partial.jsonl``; finished or not) into the reports, so a long run can be published as far
as it got and again when it is done:

    python -m benchmarks.faithfulness_suite --sidecar RUN.json.partial.jsonl \\
        --prompts benchmarks/data/lambada_prompts_1000.json --n 200 --name smollm2 \\
        [--sanity sanity_smollm2.json [more.json …]] [--wall-s SECONDS]
    python -m benchmarks.faithfulness_suite --reports RUN_zero.json RUN_pad.json --n 200 \\
        --name smollm2 [--sanity …]
    python -m benchmarks.faithfulness_suite --table benchmarks/results/faithfulness_*_*.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from jscope_desktop.engine.faithfulness.measure import FaithfulnessConfig
from jscope_desktop.engine.faithfulness.resume import read_sidecar
from jscope_desktop.engine.faithfulness.run import ModelAbout, build_reports, read_partial
from jscope_desktop.engine.faithfulness.sanity import (
    SanityConfig,
    layers_of,
    sanity_parser,
    sanity_report,
)
from jscope_desktop.engine.io import write_json
from jscope_desktop.render.outputs import save_faithfulness_page, save_faithfulness_picture

RESULTS = Path(__file__).resolve().parent / "results"
# the reference's table (LLaMA-3.2-1B, 1,000 LAMBADA passages, AOPC; Neurips_rebuttal/
# llama1b_filler_aopc_summary.md) and its LOO-KL Spearman (loo_ranking_agreement.md)
REFERENCE_AOPC = {
    "zero": {"random": -0.261, "integrated": -1.095, "grad_input": -1.284, "semantic": -1.298,
             "temperature": -1.317, "fisher": -1.320},
    "pad": {"random": -0.408, "integrated": -1.355, "grad_input": -1.611, "semantic": -1.626,
            "temperature": -1.686, "fisher": -1.692},
}
REFERENCE_LOO = {"fisher": 0.590, "grad_input": 0.556, "semantic": 0.562, "temperature": 0.550,
                 "integrated": 0.300, "random": 0.005}


def reports_from_sidecar(sidecar: Path, n_planned: int, prompts_file: str) -> dict[str, dict]:
    """The reports (filler → report) of the passages finished in ``sidecar`` (its header gives
    the settings and the model); ``complete`` / ``n_planned`` say how far the run got."""
    header = json.loads(sidecar.read_text(encoding="utf-8").splitlines()[0])
    cfg = FaithfulnessConfig(**header["config"])
    done = read_partial(sidecar, header)
    results = [done[i] for i in sorted(done)]
    about = ModelAbout(header["model"], "cpu", header["dtype"])
    reports = build_reports(about, cfg, results, prompts_file)
    for r in reports.values():
        r["n_planned"] = n_planned
        r["complete"] = len(results) == n_planned and sorted(done) == list(range(n_planned))
    return reports


def sanity_from_sidecar(sidecar: Path, n_planned: int, prompts_file: str) -> dict:
    """The sanity report of the passages finished in a `jscope sanity` run's ``sidecar``
    (finished or not); ``complete`` / ``n_planned`` say how far the run got."""
    header = json.loads(sidecar.read_text(encoding="utf-8").splitlines()[0])
    cfg = SanityConfig(**header["config"])
    done = read_sidecar(sidecar, header, sanity_parser(cfg))
    results = [done[i] for i in sorted(done)]
    report = sanity_report({"model": header["model"], "device": "cpu", "dtype": header["dtype"]},
                           cfg, results, prompts_file, layers_of(results))
    report["n_planned"] = n_planned
    report["complete"] = sorted(done) == list(range(n_planned))
    report["compute_s"] = sum(r.seconds for r in results)  # summed over passages (not wall)
    return report


def finished_reports(paths: list[Path], n_planned: int) -> dict[str, dict]:
    """The reports (filler → report) a finished ``jscope faithfulness`` run wrote, one JSON
    per filler, marked complete when they hold all ``n_planned`` passages."""
    reports = {}
    for path in paths:
        report = json.loads(path.read_text(encoding="utf-8"))
        report["n_planned"] = n_planned
        report["complete"] = report["n_prompts"] == n_planned
        reports[report["filler"]["name"]] = report
    return reports


def publish(reports: dict[str, dict], name: str, sanity: dict | None, wall_s: float | None) -> None:
    """Write ``faithfulness_<name>_<filler>.json/.html/.png`` into ``benchmarks/results``."""
    for filler, report in reports.items():
        if wall_s is not None:
            report["wall_s_all_fillers"] = wall_s
        stem = RESULTS / f"faithfulness_{name}_{filler}"
        write_json(stem.with_suffix(".json"), report)
        save_faithfulness_page(report, stem.with_suffix(".html"), sanity)
        save_faithfulness_picture(report, stem.with_suffix(".png"), sanity)
        print(f"wrote {stem}.json/.html/.png ({report['n_prompts']} passages)")


def table(paths: list[Path]) -> str:
    """The README table: AOPC [95 % CI] per scope, model and filler, the reference beside."""
    reports = [json.loads(p.read_text(encoding="utf-8")) for p in paths]
    cols = [(r["model"]["name"], r["filler"]["name"], r) for r in reports]
    scopes = [s for s in ["random", "integrated", "grad_input", "semantic", "contrast",
                          "temperature", "fisher"] if any(s in r["aopc"] for r in reports)]
    head = "| scope | " + " | ".join(f"{m}, {f} (n = {r['n_prompts']})" for m, f, r in cols) \
        + " | reference LLaMA-3.2-1B, zero | reference, PAD |"
    lines = [head, "|---" * (len(cols) + 3) + "|"]
    for s in scopes:
        cells = []
        for _, _, r in cols:
            st = r["aopc"].get(s)
            cells.append("–" if not st or st["mean"] is None else
                         f"{st['mean']:.3f} [{st['ci95'][0]:.3f}, {st['ci95'][1]:.3f}]")
        ref = [f"{REFERENCE_AOPC[f].get(s, float('nan')):.3f}" if s in REFERENCE_AOPC[f] else "–"
               for f in ("zero", "pad")]
        lines.append(f"| {s} | " + " | ".join(cells + ref) + " |")
    return "\n".join(lines)


def paired_lines(report: dict, subset: str = "all", top: int = 6) -> list[str]:
    """Markdown rows of the paired tests of ``subset`` against random and between the scopes,
    the largest |difference| first (``top`` rows)."""
    rows = [p for p in report["paired"] if p["subset"] == subset and p["mean_diff"] is not None]
    rows.sort(key=lambda p: p["p_holm"] if p["p_holm"] is not None else 2)
    out = ["| a − b | mean | bootstrap 95 % | Wilcoxon p | Holm p | n |", "|---|---|---|---|---|---|"]
    for p in rows[:top]:
        out.append(f"| {p['a']} − {p['b']} | {p['mean_diff']:.3f} | [{p['ci95'][0]:.3f}, "
                   f"{p['ci95'][1]:.3f}] | {p['p_wilcoxon']:.2g} | {p['p_holm']:.2g} | {p['n']} |")
    return out


def merge_sanity(parts: list[dict]) -> dict:
    """One sanity report from runs of the same model and settings on different scopes (the
    costly scopes run on fewer passages): each scope's curve keeps its own ``n``; the
    passages' per-scope ρ lists are joined by index; ``n_prompts`` is the largest run's and
    ``n_prompts_by_scope`` says each scope's."""
    if len(parts) == 1:
        return parts[0]
    same = ("model", "dtype", "n_layers", "explain", "seed", "fisher_method", "ig_baseline")
    first = parts[0]
    for other in parts[1:]:
        if any(other.get(k) != first.get(k) for k in same):
            raise SystemExit("the sanity runs to merge differ in model or settings")
    scopes = [s for p in parts for s in p["scopes"]]
    if len(set(scopes)) != len(scopes):
        raise SystemExit("the sanity runs to merge measure the same scope twice")
    merged = json.loads(json.dumps(first))
    merged["n_prompts_by_scope"] = {s: first["n_prompts"] for s in first["scopes"]}
    by_index = {pp["index"]: pp for pp in merged["per_prompt"]}
    for other in parts[1:]:
        new = [s for s in other["scopes"] if s not in merged["scopes"]]
        merged["scopes"] += new
        merged["n_prompts_by_scope"].update({s: other["n_prompts"] for s in new})
        for mine, theirs in zip(merged["steps"], other["steps"]):
            mine["spearman"].update({s: theirs["spearman"][s] for s in new})
        for pp in other["per_prompt"]:
            into = by_index.setdefault(pp["index"], {**pp, "spearman": {}})
            into["spearman"].update({s: pp["spearman"][s] for s in new})
        merged["wall_s"] = (merged.get("wall_s") or 0) + (other.get("wall_s") or 0)
    merged["per_prompt"] = [by_index[i] for i in sorted(by_index)]
    merged["n_prompts"] = max(p["n_prompts"] for p in parts)
    return merged


def sanity_lines(sanity: dict) -> list[str]:
    """Markdown rows: mean ρ per scope at a few steps of the sanity curve."""
    steps = sanity["steps"]
    pick = sorted({0, 1, len(steps) // 4, len(steps) // 2, 3 * len(steps) // 4, len(steps) - 1})
    out = ["| blocks re-initialised | " + " | ".join(sanity["scopes"]) + " |",
           "|---" * (len(sanity["scopes"]) + 1) + "|"]
    for k in pick:
        st = steps[k]["spearman"]
        out.append(f"| {steps[k]['blocks_randomised']} | " + " | ".join(
            "–" if st[s]["mean"] is None else
            f"{st[s]['mean']:.3f}" + ("" if st[s]["ci95"][0] is None else
                                      f" [{st[s]['ci95'][0]:.2f}, {st[s]['ci95'][1]:.2f}]")
            for s in sanity["scopes"]) + " |")
    return out


def main() -> None:
    """Publish one run's reports, or print the README table of published reports."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = p.add_mutually_exclusive_group()
    source.add_argument("--sidecar", type=Path, help="publish a run's sidecar, finished or not")
    source.add_argument("--reports", nargs="+", type=Path,
                        help="publish a finished run's reports (the JSON per filler it wrote; "
                             "the sidecar is removed when a run finishes)")
    p.add_argument("--prompts", default="benchmarks/data/lambada_prompts_1000.json")
    p.add_argument("--n", type=int, default=200, help="passages the run was asked for")
    p.add_argument("--name", help="the model's short name in the file names")
    p.add_argument("--sanity", type=Path, nargs="+",
                   help="`jscope sanity` JSONs to show in the reports (several: merged by scope)")
    p.add_argument("--wall-s", type=float, help="the run's wall time so far (seconds)")
    p.add_argument("--table", nargs="*", type=Path, help="print the README table of these reports")
    p.add_argument("--paired", type=Path, help="print the paired tests of this report")
    p.add_argument("--sanity-table", type=Path, help="print the sanity curve of this report")
    p.add_argument("--sanity-sidecar", type=Path,
                   help="write the sanity report of this `jscope sanity` sidecar (finished or "
                        "not) to benchmarks/results/sanity_NAME.json")
    args = p.parse_args()
    if args.table:
        print(table(args.table))
        return
    if args.paired:
        for subset in ("all", "correct"):
            print(f"\n{subset}:\n" + "\n".join(paired_lines(json.loads(args.paired.read_text()), subset)))
        return
    if args.sanity_sidecar:
        if not args.name:
            p.error("--sanity-sidecar needs --name (the file is sanity_NAME.json)")
        out = RESULTS / f"sanity_{args.name}.json"
        write_json(out, sanity_from_sidecar(args.sanity_sidecar, args.n, args.prompts))
        print(f"wrote {out}")
        return
    if args.sanity_table:
        print("\n".join(sanity_lines(json.loads(args.sanity_table.read_text()))))
        return
    sanity = merge_sanity([json.loads(f.read_text(encoding="utf-8")) for f in args.sanity]) \
        if args.sanity else None
    if not (args.sidecar or args.reports) or not args.name:
        p.error("publishing needs --sidecar or --reports, and --name")
    if args.reports:
        reports = finished_reports(args.reports, args.n)
    else:
        reports = reports_from_sidecar(args.sidecar, args.n, args.prompts)
    publish(reports, args.name, sanity, args.wall_s)


if __name__ == "__main__":
    main()
