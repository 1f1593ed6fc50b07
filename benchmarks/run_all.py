"""`make bench`: every benchmark at a size that finishes in about 30 minutes on a 2-core CPU,
then a summary table. Results: ``benchmarks/results/<name>.json`` and ``<name>.png``.

    python -m benchmarks.run_all                 # the default run (the README's numbers)
    python -m benchmarks.run_all --quick         # a few seconds per benchmark, to check it works
    python -m benchmarks.run_all --full          # all 1,000 passages with LOO, 5 seeds (hours)
    python -m benchmarks.run_all --model PATH --device cuda --only cost,faithfulness
    python -m benchmarks.run_all --only batch,faithfulness_parallel   # workers against sequential

``--quick`` writes into ``benchmarks/results/quick/`` so it never overwrites a real run.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import bench_batch, bench_cost, bench_faithfulness, bench_fisher, bench_generation, bench_multi
from .common import RESULTS, add_model_args, load

# faithfulness last: it is the one bounded by the time budget
BENCHMARKS = ("cost", "fisher", "generation", "multi", "batch", "faithfulness_parallel",
              "faithfulness")

# name -> settings per size; the default fits ~30 min on 2 cores (see each module's docstring)
SIZES = {
    "quick": {"lengths": (32, 64, 128), "repeats": 1, "ranks": (0, 8), "probes": (4, 8), "seeds": 1,
              "fisher_prompts": 2, "gen_n": (2, 4), "passages": 3, "loo_passages": 2,
              "batch_items": 4, "batch_repeats": 1, "par_passages": 1, "par_repeats": 1},
    "default": {"lengths": bench_cost.LENGTHS, "repeats": 3, "ranks": bench_fisher.RANKS,
                "probes": bench_fisher.PROBES, "seeds": 4, "fisher_prompts": 6,
                "gen_n": bench_generation.N_TOKENS, "passages": 200, "loo_passages": 20,
                "batch_items": bench_batch.N_ITEMS, "batch_repeats": bench_batch.REPEATS,
                "par_passages": 4, "par_repeats": 2},
    "full": {"lengths": bench_cost.LENGTHS, "repeats": 5, "ranks": bench_fisher.RANKS,
             "probes": bench_fisher.PROBES, "seeds": 5, "fisher_prompts": 6,
             "gen_n": bench_generation.N_TOKENS + (64,), "passages": 1000, "loo_passages": 1000,
             "batch_items": 48, "batch_repeats": 5, "par_passages": 8, "par_repeats": 3},
}


def parse(argv=None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    p = argparse.ArgumentParser(prog="python -m benchmarks.run_all", description=__doc__.splitlines()[0])
    add_model_args(p)
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="tiny sizes: checks that everything works")
    size.add_argument("--full", action="store_true", help="all 1,000 passages with LOO (hours on a CPU)")
    p.add_argument("--only", default=",".join(BENCHMARKS), help="comma-separated subset of "
                   + ", ".join(BENCHMARKS))
    p.add_argument("--passages", type=int, help="LAMBADA passages for faithfulness")
    p.add_argument("--loo-passages", type=int, help="passages that also get leave-one-out")
    p.add_argument("--max-length", type=int, help="longest prompt of the cost benchmark")
    p.add_argument("--budget-min", type=float, default=30.0,
                   help="faithfulness (run last) stops taking passages when the whole run reaches "
                        "this many minutes; it reports the passages done and can be continued "
                        "(0: no limit; --quick and --full have none)")
    args = p.parse_args(argv)
    unknown = set(args.only.split(",")) - set(BENCHMARKS)
    if unknown:
        p.error(f"unknown benchmark(s) {', '.join(sorted(unknown))}; choose from {', '.join(BENCHMARKS)}")
    if args.quick and args.out == RESULTS:
        args.out = RESULTS / "quick"
    return args


def sizes(args) -> dict:
    """The settings of the chosen size with the command line's overrides applied."""
    s = dict(SIZES["quick" if args.quick else "full" if args.full else "default"])
    if args.passages is not None:
        s["passages"] = args.passages
    if args.loo_passages is not None:
        s["loo_passages"] = args.loo_passages
    if args.max_length is not None:
        s["lengths"] = tuple(L for L in bench_cost.LENGTHS if L <= args.max_length) or (args.max_length,)
    return s


def run_benchmarks(lm, out: Path, only: list[str], s: dict, deadline: float | None = None,
                   model: str | None = None) -> dict:
    """Run the chosen benchmarks (faithfulness last, bounded by ``deadline``, a
    ``time.monotonic()`` value; ``model``: the ``--model`` that Ray workers load, None the
    embedded one); returns {name: (result, seconds)}."""
    jobs = {
        "cost": lambda: bench_cost.run(lm, out, s["lengths"], s["repeats"]),
        "fisher": lambda: bench_fisher.run(lm, out, s["ranks"], s["probes"], s["seeds"],
                                           bench_fisher.PROMPTS[: s["fisher_prompts"]]),
        "generation": lambda: bench_generation.run(lm, out, s["gen_n"]),
        "multi": lambda: bench_multi.run(lm, out, s["repeats"]),
        "batch": lambda: bench_batch.run(lm, out, s["batch_items"], repeats=s["batch_repeats"],
                                         model=model),
        "faithfulness_parallel": lambda: bench_faithfulness.run_parallel(
            lm, out, s["par_passages"], s["par_repeats"], model=model),
        "faithfulness": lambda: bench_faithfulness.run(lm, out, s["passages"], s["loo_passages"],
                                                       deadline=deadline),
    }
    done = {}
    for name in sorted(only, key=BENCHMARKS.index):
        print(f"== {name}")
        t0 = time.perf_counter()
        done[name] = (jobs[name](), time.perf_counter() - t0)
        print(f"== {name}: {done[name][1]:.0f} s")
    return done


def print_summary(done: dict, out: Path) -> None:
    """One table per benchmark (rich), with the commands that reproduce them."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    headers = {
        "cost": ["method", "128 tokens (× Temperature)", "1,024 tokens (× Temperature)"],
        "fisher": ["Fisher fast (frontier)", "median rel. L2", "median Spearman", "time / Temperature"],
        "generation": ["scope", "N", "batched s", "N separate s", "speed-up", "max rel. diff"],
        "multi": ["prompt", "tokens", "5 scopes s", "Fisher fast s", "ratio", "5 separate s"],
        "batch": ["configuration", "items/min", "× sequential", "start-up s"],
        "faithfulness_parallel": ["configuration", "run s", "× sequential", "start-up s",
                                  "same report"],
        "faithfulness": ["scope", "top 5 %", "top 10 %", "top 20 %", "LOO ρ (KL)", "paper top 10 %"],
    }
    rows = {"cost": bench_cost.summary_rows, "fisher": bench_fisher.summary_rows,
            "generation": bench_generation.summary_rows,
            "multi": bench_multi.summary_rows, "batch": bench_batch.summary_rows,
            "faithfulness_parallel": bench_faithfulness.parallel_rows,
            "faithfulness": bench_faithfulness.summary_rows}
    for name, (result, seconds) in done.items():
        table = Table(title=f"{name} ({seconds:.0f} s) — {out}")
        for h in headers[name]:
            table.add_column(h)
        for row in rows[name](result):
            table.add_row(*row)
        console.print(table)
        if name == "faithfulness":
            console.print(f"{result['n_prompts']} passages"
                          + (f"; {result['stopped']}" if result.get("stopped") else ""))


def main(argv=None) -> int:
    """Load the model once, run the benchmarks, print the summary."""
    args = parse(argv)
    t0 = time.perf_counter()
    budget = 0 if args.quick or args.full else args.budget_min
    deadline = time.monotonic() + 60 * budget if budget > 0 else None
    lm = load(args)
    done = run_benchmarks(lm, args.out, args.only.split(","), sizes(args), deadline, args.model)
    print_summary(done, args.out)
    print(f"total {time.perf_counter() - t0:.0f} s; results in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
