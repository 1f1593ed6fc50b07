"""Cost at research scale: the cost model's predicted peak memory and time against measured ones,
for Temperature and Fisher fast, on the embedded model (256–6,000 tokens) and on a
random-initialised 1.2B-parameter Llama-shaped model (width 2048, 16 layers, the embedded
tokenizer; 128–2,048 tokens).

Calibration and validation are kept apart: the model's warm-up (its calibration pass on the
first prompt's ids repeated) and one Temperature run at ``--calibrate-at`` tokens of other
text (LAMBADA passages from the 500th on) calibrate; the calibration is then frozen, and every
measured length runs on the first passages. Peak memory is the process's peak resident memory
(Linux ``VmHWM``, reset through ``/proc/self/clear_refs`` before each run); time is the wall
time of :func:`~jscope_desktop.engine.explain.attribute.attribute` (the forward pass and the scope).

    python -m benchmarks.bench_scale [--models embedded,1.2b]   # holds /tmp/jscope-big-model.lock
    (an exclusive flock) while the 1.2B model exists

``--fresh`` measures the estimate as a new machine gives it instead (``scale_fresh.json`` and
``.png``): each estimate and each run a new ``jscope`` process under ``/usr/bin/time -v``, on
an empty calibration cache and after five runs (:mod:`.scale_fresh`).
"""

from __future__ import annotations

import argparse
import copy
import fcntl
import gc
from pathlib import Path

import torch

from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.faithfulness.run import load_prompts
from jscope_desktop.engine.model.load import LoadedModel, ModelInfo, load_model
from jscope_desktop.engine.model.tokens import encode_prompt
from jscope_desktop.engine.planning.calibration import estimate_loaded

from .common import (
    LAMBADA,
    RESULTS,
    _release_freed_memory,
    environment,
    peak_of,
    pyplot,
    read_json,
    save_figure,
    write_result,
)

NAME = "scale"
LOCK = "/tmp/jscope-big-model.lock"
SCOPES = {"temperature": AttributionRequest(scope="temperature"),
          "fisher_fast": AttributionRequest(scope="fisher", fisher_method="fast"),
          "temperature_recompute": AttributionRequest(scope="temperature")}
# run under a memory limit halfway between the plain and the recomputed estimates, so that the
# engine chooses recomputation as it would for a user whose plain graph does not fit
RECOMPUTED = {"temperature_recompute"}
LENGTHS = {"embedded": (256, 1024, 2048, 4096, 6000), "1.2b": (128, 512, 1024, 2048)}
CALIBRATE_AT = {"embedded": 512, "1.2b": 256}


def big_model(tokenizer) -> LoadedModel:
    """A random 1.2B-parameter Llama (d 2048, 16 layers, f 8192, 32 heads, 8 key-value heads,
    untied embeddings, the embedded tokenizer's 49,152 tokens), float32 on the CPU."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=49152, hidden_size=2048, intermediate_size=8192,
                         num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
                         max_position_embeddings=8192, tie_word_embeddings=False,
                         bos_token_id=1, eos_token_id=2)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config).eval().requires_grad_(False)
    info = ModelInfo("random-llama-1.2b", "(random)", sum(p.numel() for p in model.parameters()),
                     2048, 49152, 16, 8192, "LlamaForCausalLM")
    return LoadedModel(model, tokenizer, info, torch.device("cpu"), torch.float32)


def text_ids(lm: LoadedModel, n: int, skip: int = 0) -> list[int]:
    """``n`` token ids of LAMBADA passages from the ``skip``-th on, joined by blank lines."""
    texts = load_prompts(LAMBADA)[skip:]
    used, ids = 8, []
    while len(ids) < n and used <= len(texts):
        ids = encode_prompt(lm.tokenizer, "\n\n".join(texts[:used])).token_ids
        used *= 2
    return ids[:n]


def peak_run(lm: LoadedModel, req: AttributionRequest, memory_limit: int | None = None) -> dict:
    """Run ``req`` (under ``memory_limit``, run anyway); its wall time, the process's resident
    memory before and its peak."""
    row = peak_of(lambda: attribute(lm, req, memory_limit=memory_limit, force=True))
    row.pop("out")
    return row


def measure_model(lm: LoadedModel, name: str, lengths, calibrate_at: int, limit_s: float,
                  scopes: dict, table: dict, save) -> None:
    """Calibrate (warm-up + one run per scope on other text), freeze, then measure each length."""
    cal_ids = text_ids(lm, calibrate_at, skip=500)
    lm._cost_records = {}  # nothing measured before (the user cache) counts
    # the engine estimates every scope from the graph's throughput: Temperature calibrates
    run = peak_run(lm, SCOPES["temperature"].but(token_ids=cal_ids))
    print(f"  {name} calibrate temperature {calibrate_at} tokens {run['seconds']:.1f} s", flush=True)
    frozen = copy.deepcopy(lm._cost_records)
    table[name] = {"calibration": {"lengths": [calibrate_at], "text": "LAMBADA passages 500+",
                                   "warm_up": "the model's calibration pass"},
                   "environment": environment(lm), "runs": {s: {} for s in scopes}}
    for scope, req in scopes.items():
        for n in lengths:
            ids = text_ids(lm, n)
            r = req.but(token_ids=ids)
            lm._cost_records = copy.deepcopy(frozen)
            gc.collect()
            _release_freed_memory()
            limit = None
            if scope in RECOMPUTED:
                plain, again = (estimate_loaded(lm, r, len(ids), recompute=f) for f in (False, True))
                limit = (plain.peak_bytes + again.peak_bytes) // 2
            est = estimate_loaded(lm, r, len(ids), limit)
            row = {"tokens": len(ids), "predicted_peak_bytes": est.peak_bytes,
                   "predicted_seconds": est.seconds, "recompute": est.recompute}
            if est.seconds > limit_s:
                row["skipped"] = f"predicted {est.seconds:.0f} s > {limit_s:.0f} s"
            else:
                row.update(peak_run(lm, r, limit))
                row["peak_ratio"] = est.peak_bytes / row["peak_bytes"]
                row["delta_ratio"] = (est.peak_bytes - row["base_bytes"]) / max(
                    1, row["peak_bytes"] - row["base_bytes"])
                row["time_ratio"] = est.seconds / row["seconds"]
            table[name]["runs"][scope][str(n)] = row
            print(f"  {name} {scope} {n} {row}", flush=True)
            save()
    lm._cost_records = frozen


def replay(cost_json: Path, calibrate_at: int = 256) -> dict:
    """The time model against ``bench_cost``'s measurements (``cost.json``, taken on a quiet
    machine): the throughput from Temperature at ``calibrate_at`` tokens only, then every other
    length of Temperature and Fisher fast predicted from it (each run's seconds: its forward
    pass plus its scope, as the cost model counts them)."""
    from jscope_desktop.engine.model.shape import ModelShape
    from jscope_desktop.engine.planning.cost_model import RUN_OVERHEAD_S, work

    data = read_json(cost_json)
    m = data["environment"]["model"]
    if m["name"] != "SmolLM2-135M-Instruct":
        raise ValueError("the replay knows the embedded model's shape only")
    shape = ModelShape(m["n_params"], 576, 30, 1536, 9, 3, 64, m["vocab_size"])
    table = data["methods"]

    def total(method, n):
        return table[method][str(n)]["seconds"] + table["forward"][str(n)]["seconds"]

    rate = work(shape, calibrate_at, SCOPES["temperature"]) / total("temperature", calibrate_at)
    out = {"source": str(cost_json), "calibrated_on": f"temperature at {calibrate_at} tokens",
           "runs": {}}
    for name in SCOPES:
        rows = {}
        for n, row in table[name].items():
            if "seconds" not in row or (name == "temperature" and int(n) == calibrate_at):
                continue
            predicted = work(shape, int(n), SCOPES[name]) / rate + RUN_OVERHEAD_S
            rows[n] = {"seconds": total(name, int(n)), "predicted_seconds": predicted,
                       "time_ratio": predicted / total(name, int(n))}
        out["runs"][name] = rows
    return out


def plot(result: dict, out_dir: Path) -> Path | None:
    """Measured against predicted peak memory and time per length, one column per model."""
    plt = pyplot()
    if plt is None:
        return None
    models = list(result["models"])
    fig, axes = plt.subplots(2, len(models), figsize=(5.5 * len(models), 7), squeeze=False)
    for j, name in enumerate(models):
        for scope, colour in (("temperature", "tab:blue"), ("fisher_fast", "tab:red"),
                              ("temperature_recompute", "tab:green")):
            runs = result["models"][name]["runs"].get(scope, {})
            rows = [r for r in runs.values() if "seconds" in r]
            if not rows:
                continue
            x = [r["tokens"] for r in rows]
            for i, (measured, predicted, scale, unit) in enumerate(
                    (("peak_bytes", "predicted_peak_bytes", 2**30, "peak memory (GB)"),
                     ("seconds", "predicted_seconds", 1, "time (s)"))):
                ax = axes[i][j]
                ax.plot(x, [r[measured] / scale for r in rows], "o-", color=colour,
                        label=f"{scope.replace('_', ' ')} measured")
                ax.plot(x, [r[predicted] / scale for r in rows], "x--", color=colour,
                        label=f"{scope.replace('_', ' ')} predicted")
                ax.set_xlabel("tokens")
                ax.set_ylabel(unit)
                ax.set_title(f"{name}: {unit}")
                ax.legend(fontsize=7)
    for ax in axes.flat:  # after every line: an early bottom=0 would freeze the top too
        ax.set_ylim(bottom=0, top=ax.get_ylim()[1])
    return save_figure(plt, fig, out_dir, NAME)


def main(argv=None) -> int:
    """Measure, write ``scale.json`` (after every run) and the plot."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="embedded,1.2b")
    ap.add_argument("--limit-s", type=float, default=600.0, help="skip runs predicted longer")
    ap.add_argument("--out", type=Path, default=RESULTS)
    ap.add_argument("--plot-only", action="store_true")
    ap.add_argument("--replay", type=Path, help="check the time model on a bench_cost JSON")
    ap.add_argument("--lengths", help="comma-separated token counts (default: per model)")
    ap.add_argument("--scopes", default=",".join(SCOPES), help="temperature,fisher_fast")
    ap.add_argument("--calibrate-at", type=int, help="tokens of the calibration runs")
    ap.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    ap.add_argument("--fresh", action="store_true", help="new processes on an empty cache and "
                    "after five runs, peaks from /usr/bin/time -v (scale_fresh.json)")
    ap.add_argument("--states", default="empty,after5", help="--fresh: which caches")
    args = ap.parse_args(argv)
    if args.fresh and args.plot_only:
        from .scale_fresh import plot as plot_fresh

        print(plot_fresh(read_json(args.out / "scale_fresh.json"), args.out))
        return 0
    if args.fresh:
        from .scale_fresh import CASES, run

        cases = None
        if args.lengths or args.scopes != ",".join(SCOPES):
            lengths = [int(n) for n in args.lengths.split(",")] if args.lengths else None
            cases = {m: tuple((s, n) for s, n in CASES[m] if s in args.scopes.split(",")
                              and (lengths is None or n in lengths)) for m in CASES}
        run(args.out, args.models.split(","), cases, tuple(args.states.split(",")))
        return 0
    path = args.out / f"{NAME}.json"
    result = read_json(path) if path.exists() else {"models": {}}
    if args.replay:
        result["quiet_replay"] = replay(args.replay)
        write_result(args.out, NAME, result)
        print(result["quiet_replay"])
        return 0
    if args.plot_only:
        print(plot(result, args.out))
        return 0

    if args.threads:
        torch.set_num_threads(args.threads)
    lengths = {m: tuple(int(n) for n in args.lengths.split(",")) if args.lengths else LENGTHS[m]
               for m in LENGTHS}
    calibrate_at = {m: args.calibrate_at or CALIBRATE_AT[m] for m in CALIBRATE_AT}
    scopes = {s: SCOPES[s] for s in args.scopes.split(",")}

    def save():
        write_result(args.out, NAME, result)

    embedded = load_model(device="cpu")
    for name in args.models.split(","):
        if name == "embedded":
            measure_model(embedded, name, lengths[name], calibrate_at[name], args.limit_s, scopes,
                          result["models"], save)
            continue
        with open(LOCK, "w") as lock:  # one >1B model in memory on this machine at a time
            fcntl.flock(lock, fcntl.LOCK_EX)
            lm = big_model(embedded.tokenizer)
            measure_model(lm, name, lengths[name], calibrate_at[name], args.limit_s, scopes,
                          result["models"], save)
            del lm
            gc.collect()
    save()
    print(plot(result, args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
