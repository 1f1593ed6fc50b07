"""Fisher fast against Fisher exact on prompts it was not tuned on, and its cost.

The settings of Fisher fast (fisher_config.py) and its error calibration were chosen on
``data/fisher_tuning.json`` only; everything here is reported on ``data/fisher_validation.json``
(45 prompts, 5–45 tokens, 12 categories), which was never used to choose anything.

- per validation prompt: exact scores; the default for ``seeds`` seeds: relative L2 error,
  Spearman ρ, the result's ``rel_error_estimate``; the time ratio to a Temperature Scope
  (interleaved T F T F …, median after a warm-up, one process);
- the error distribution (median, p90, worst over prompts of the per-prompt median over seeds),
  the Spearman pass rate (ρ ≥ 0.99), the calibration (true ≤ 1.5 × estimate, every prompt × seed);
- the frontier: error against time ratio over a grid of (Krylov block k, probes);
- ``--long``: LAMBADA (the first passages of data/lambada_prompts_1000.json joined by blank lines,
  cut to N tokens): time ratio of the default and of ``--fisher-error`` set to the validation
  median, with the estimated error (an exact reference there costs d backward directions);
- ``--big``: a random-initialised 1.2B Llama-shaped model (width 2048, 16 layers) with the
  embedded tokenizer at 512 tokens, holding /tmp/jscope-big-model.lock: time ratio;
- ``--exact-check``: Fisher exact against a plain batched implementation (eigenvectors of F
  through ``is_grads_batched`` backward passes of 64), interleaved.

Exact references are cached (``--cache``; keyed by model and token ids) since each costs d
backward directions.

    python -m benchmarks.bench_fisher [--seeds 3] [--prompts N] [--long 1024] [--big] [--exact-check]
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from jscope_desktop.engine.compute import fisher as fisher_mod
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.faithfulness.stats import spearman
from jscope_desktop.engine.model.tokens import encode_prompt

from .common import DATA, add_model_args, environment, lambada_ids, load, pyplot, save_figure, write_result

NAME = "fisher_accuracy"
RANKS = (2, 4, 6, 8)
PROBES = (4, 8, 16)
VALIDATION = DATA / "fisher_validation.json"
TUNING = DATA / "fisher_tuning.json"


def prompts_of(path: Path) -> tuple[str, ...]:
    """The prompt texts of a prompt-set file (``{"note", "prompts": [{"text", …}]}``)."""
    return tuple(p["text"] for p in json.loads(Path(path).read_text(encoding="utf-8"))["prompts"])


PROMPTS = prompts_of(VALIDATION)
BIG_LOCK = "/tmp/jscope-big-model.lock"


def default_setting() -> tuple[int, int]:
    """The engine's default (Krylov block k, probes) of Fisher fast."""
    return fisher_mod.DEFAULT_RANK["fast"], fisher_mod.DEFAULT_PROBES


def _setting(rank: int, probes: int) -> dict:
    """Request fields of a grid point: the default as a user gets it (probes not given, so the
    rank check runs), any other point as fixed settings (exactly ``probes``)."""
    if (rank, probes) == default_setting():
        return {"fisher_method": "fast"}
    return {"fisher_method": "fast", "fisher_rank": rank, "fisher_probes": probes}


def _run(lm, ids, scope="fisher", **kw):
    r = attribute(lm, AttributionRequest(token_ids=ids, scope=scope, **kw))
    return np.array(r.scores, dtype=np.float64), r


def _cached(lm, ids, cache: Path) -> Path | None:
    key = hashlib.sha1(json.dumps([lm.info.name, lm.dtype_name, ids]).encode()).hexdigest()[:16]
    path = cache / f"{key}.json"
    return path if path.exists() else None


def exact_scores(lm, ids, cache: Path | None) -> tuple[np.ndarray, float | None]:
    """Fisher exact scores (T,) and seconds (None when read from the cache)."""
    key = hashlib.sha1(json.dumps([lm.info.name, lm.dtype_name, ids]).encode()).hexdigest()[:16]
    path = cache / f"{key}.json" if cache else None
    if path and path.exists():
        return np.array(json.loads(path.read_text())["scores"]), None
    scores, r = _run(lm, ids, fisher_method="exact")
    if path:
        cache.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"ids": ids, "scores": scores.tolist()}))
    return scores, r.timing.scope_s


def interleaved_ratio(lm, ids, repeats=3, warm_up=True, **fisher) -> tuple[float, float, float, object]:
    """(median Fisher s / median Temperature s, Fisher s, Temperature s, the last Fisher
    result), interleaved T F T F after one warm-up of each (none with ``warm_up`` False: for
    long prompts, where lazy initialisation is negligible against a run)."""
    temp, fish = [], []
    for i in range(repeats + warm_up):
        t = _run(lm, ids, "temperature")[1].timing.scope_s
        _, r = _run(lm, ids, **fisher)
        if i or not warm_up:
            temp.append(t)
            fish.append(r.timing.scope_s)
    mt, mf = statistics.median(temp), statistics.median(fish)
    return mf / mt, mf, mt, r


def measure_prompt(lm, text, grid, seeds, cache, repeats=3, log=print, ratios=True) -> dict:
    """One prompt: exact scores; per grid point errors, Spearman, estimates; time ratios (the
    default's always, the other points' only with ``ratios``)."""
    ids = encode_prompt(lm.tokenizer, text).token_ids
    exact, exact_s = exact_scores(lm, ids, cache)
    norm = np.linalg.norm(exact)
    points = {}
    for rank, probes in grid:
        errs, rhos, ests, used = [], [], [], []
        for seed in range(seeds):
            est, r = _run(lm, ids, seed=seed, **_setting(rank, probes))
            errs.append(float(np.linalg.norm(est - exact) / norm))
            rhos.append(spearman(est, exact))
            ests.append(r.fisher.rel_error_estimate)
            used.append(r.fisher.probes)  # the default's rank check may add probes
        is_default = (rank, probes) == default_setting()
        times = []
        if ratios or is_default:
            times.append(interleaved_ratio(lm, ids, repeats if is_default else 1,
                                           **_setting(rank, probes))[0])
        points[f"{rank},{probes}"] = {"rel_l2": errs, "spearman": rhos, "estimate": ests,
                                      "probes_used": used, "time_ratio": times}
    d = points["{},{}".format(*default_setting())]
    log(f"  {len(ids):3d} tokens  err {statistics.median(d['rel_l2']):.3f}  est "
        f"{statistics.median(d['estimate']):.3f}  ρ {min(d['spearman']):.4f}  "
        f"×{d['time_ratio'][0]:.2f}  {text[:40]!r}")
    return {"text": text, "n_tokens": len(ids), "exact_s": exact_s, "points": points}


def summarize(prompts: list[dict], grid) -> dict:
    """Per grid point over prompts: the per-prompt median error's median, p90 and worst; the
    Spearman pass rate; the calibration; the median time ratio; the Pareto frontier."""
    out = {}
    for rank, probes in grid:
        key = f"{rank},{probes}"
        per = [p["points"][key] for p in prompts]
        med = sorted(statistics.median(v["rel_l2"]) for v in per)
        pairs = [(e, s) for v in per for e, s in zip(v["rel_l2"], v["estimate"], strict=True)]
        rhos = [statistics.median(v["spearman"]) for v in per]
        out[key] = {
            "rank": rank, "probes": probes, "median_rel_l2": statistics.median(med),
            "p90_rel_l2": float(np.percentile(med, 90)), "max_rel_l2": med[-1],
            "median_spearman": statistics.median(rhos), "min_spearman": min(rhos),
            "spearman_pass": sum(r >= 0.99 for r in rhos) / len(rhos),
            "bound_holds": sum(e <= 1.5 * s for e, s in pairs if s == s) / len(pairs),
            "median_time_ratio": statistics.median(t for v in per for t in v["time_ratio"]),
            "p90_time_ratio": float(np.percentile([t for v in per for t in v["time_ratio"]], 90)),
            "time_ratio_prompts": sum(bool(v["time_ratio"]) for v in per)}
    for key, v in out.items():
        v["frontier"] = not any(
            w["median_time_ratio"] <= v["median_time_ratio"] and w["median_rel_l2"] < v["median_rel_l2"]
            for k, w in out.items() if k != key)
    return out


def long_prompt(lm, n_tokens: int, target: float, log=print) -> dict:
    """LAMBADA at ``n_tokens``: time ratio of the default and of the accuracy mode at ``target``."""
    ids = lambada_ids(lm, n_tokens)
    repeats, warm = (2, True) if n_tokens < 512 else (1, False)  # a 1,024-token run takes minutes
    ratio, fs, ts, last = interleaved_ratio(lm, ids, repeats, warm, fisher_method="fast")
    est, probes = last.fisher.rel_error_estimate, last.fisher.probes
    ratio_t, fs_t, _, last = interleaved_ratio(lm, ids, repeats, warm, fisher_method="fast",
                                               fisher_rel_error=target)
    r = last.fisher
    log(f"  LAMBADA {n_tokens}: default ×{ratio:.2f} (est {est:.3f}, {probes} probes); error ≤ {target:.3f}: "
        f"×{ratio_t:.2f} (est {r.rel_error_estimate:.3f}, {r.probes} probes)")
    return {"n_tokens": n_tokens, "temperature_s": ts, "default": {"time_ratio": ratio, "fisher_s": fs,
            "estimate": est, "probes": probes}, "accuracy_mode": {"target": target, "time_ratio": ratio_t,
            "fisher_s": fs_t, "estimate": r.rel_error_estimate, "probes": r.probes}}


def big_model(lm, n_tokens=512, log=print) -> dict:
    """A random 1.2B Llama-shaped model (width 2048, 16 layers) with ``lm``'s tokenizer, held
    under the big-model lock: Fisher fast's time ratio to Temperature at ``n_tokens``."""
    import transformers

    from jscope_desktop.engine.model.load import LoadedModel, ModelInfo

    with open(BIG_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        torch.manual_seed(0)
        cfg = transformers.LlamaConfig(
            vocab_size=len(lm.tokenizer), hidden_size=2048, intermediate_size=8192,
            num_hidden_layers=16, num_attention_heads=32, num_key_value_heads=8,
            max_position_embeddings=4096, tie_word_embeddings=False)
        model = transformers.LlamaForCausalLM(cfg).eval().requires_grad_(False)
        n = sum(p.numel() for p in model.parameters())
        info = ModelInfo(name="random-llama-1.2B", source="(random)", n_params=n, d_model=2048,
                         vocab_size=cfg.vocab_size, n_layers=16, context_length=4096,
                         architecture="LlamaForCausalLM")
        big = LoadedModel(model, lm.tokenizer, info, torch.device("cpu"), torch.float32)
        ids = lambada_ids(lm, n_tokens)
        # a warm-up run would double minutes of work for lazy set-up measured in milliseconds
        ratio, fs, ts, last = interleaved_ratio(big, ids, 1, warm_up=False, fisher_method="fast")
        del big, model
    probes = last.fisher.probes
    log(f"  1.2B model at {n_tokens} tokens: Fisher fast {fs:.1f} s ({probes} probes), "
        f"Temperature {ts:.1f} s, ×{ratio:.2f}")
    return {"n_params": n, "n_tokens": n_tokens, "fisher_s": fs, "temperature_s": ts,
            "time_ratio": ratio, "probes": probes}


def exact_check(lm, text, repeats=2, log=print) -> dict:
    """Fisher exact (engine) against a plain batched implementation, interleaved, same prompt."""
    from jscope_desktop.engine.compute.forward import _plain_batched_vjp, build_graph

    ids = encode_prompt(lm.tokenizer, text).token_ids

    def plain() -> float:
        t0 = time.perf_counter()
        graph = build_graph(lm, ids, len(ids) - 1)
        s, U = torch.linalg.eigh(fisher_mod.fisher_matrix(lm, graph))
        V = (U * s.clamp_min(0).sqrt()).T.float()
        total = torch.zeros(len(ids), dtype=torch.float64)
        for i in range(0, V.shape[0], 64):
            total += _plain_batched_vjp(graph, V[i:i + 64]).pow(2).sum(-1).sum(0).double()
        return time.perf_counter() - t0

    engine, simple = [], []
    for _ in range(repeats):
        t0 = time.perf_counter()
        _run(lm, ids, fisher_method="exact")
        engine.append(time.perf_counter() - t0)
        simple.append(plain())
    out = {"n_tokens": len(ids), "engine_s": engine, "plain_s": simple,
           "engine_over_plain": statistics.median(engine) / statistics.median(simple)}
    log(f"  exact {statistics.median(engine):.1f} s against plain {statistics.median(simple):.1f} s "
        f"(×{out['engine_over_plain']:.2f})")
    return out


def plot(result: dict, out_dir, name: str = NAME):
    """Frontier (error and Spearman against time ratio) and the calibration (log-log)."""
    plt = pyplot()
    if plt is None:
        return None
    front = result.get("frontier") or {"grid": result["grid"], "prompts_measured": len(result["prompts"])}
    pts, default = front["grid"], "{},{}".format(*result["default"])
    fig, (ax_e, ax_s, ax_c) = plt.subplots(1, 3, figsize=(16, 4.6))
    if len(pts) == 1 and not result.get("frontier"):
        _plot_prompts(result, default, ax_e, ax_s)
    else:
        _plot_frontier(result, front, pts, default, ax_e, ax_s)
    _plot_calibration(result, default, ax_c)
    env = result["environment"]
    fig.suptitle(f"Fisher fast on {result.get('prompt_set', 'the validation set')} — "
                 f"{env['model']['name']}, "
                 f"{len(result['prompts'])} prompts × {result['seeds']} seeds", fontsize=10)
    return save_figure(plt, fig, out_dir, name)


def _plot_prompts(result, default, ax_e, ax_s):
    """One point per prompt: its median error / median Spearman against its time ratio."""
    per = [p["points"][default] for p in result["prompts"]]
    ratio = [v["time_ratio"][0] if v["time_ratio"] else float("nan") for v in per]
    extended = [max(v.get("probes_used") or [0]) > default_setting()[1] for v in per]
    for ax, key, label, line in ((ax_e, "rel_l2", "relative L2 error vs exact (median of seeds)", None),
                                 (ax_s, "spearman", "Spearman ρ vs exact (median of seeds)", 0.99)):
        y = [statistics.median(v[key]) for v in per]
        for flag, color, text in ((False, "C0", "5 probes"), (True, "C1", "probes added")):
            pick = [i for i, e in enumerate(extended) if e == flag]
            ax.scatter([ratio[i] for i in pick], [y[i] for i in pick], s=22, color=color, label=text)
        if line:
            ax.axhline(line, color="C3", lw=1, label="ρ = 0.99")
        ax.set(xlabel="time / Temperature Scope", ylabel=label, title="every prompt")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    ax_e.set_yscale("log")


def _plot_frontier(result, front, pts, default, ax_e, ax_s):
    """Error and Spearman against time ratio over the grid (or an earlier run's frontier)."""
    for ax, key, label in ((ax_e, "median_rel_l2", "median relative L2 error vs exact"),
                           (ax_s, "median_spearman", "median Spearman ρ vs exact")):
        for k, v in pts.items():
            ax.scatter(v["median_time_ratio"], v[key], s=18 + 3 * v["probes"],
                       color="C0" if v["frontier"] else "0.6", zorder=3)
            # the grid's default point is the default, rank check included; the others are fixed
            text = f"k{v['rank']} p{v['probes']}" + (" + check" if k == default else "")
            ax.annotate(text, (v["median_time_ratio"], v[key]),
                        fontsize=7, xytext=(3, 3), textcoords="offset points")
        line = sorted((v["median_time_ratio"], v[key]) for v in pts.values() if v["frontier"])
        ax.plot(*zip(*line, strict=True), "-", color="C0", label="frontier")
        # the default as this run measured it (with the rank check, on all its prompts); the
        # frontier may come from an earlier run of fixed settings on fewer prompts
        d = result["grid"][default]
        ax.scatter(d["median_time_ratio"], d[key], marker="*", s=260, color="C3", zorder=4,
                   label=f"default {result['default'][0]} + {result['default'][1]} probes, "
                         f"rank check ({len(result['prompts'])} prompts)")
        ax.set_xlabel("time / Temperature Scope (median over prompts)")
        ax.set_title(f"frontier: fixed settings and the default, {front['prompts_measured']} prompts",
                     fontsize=9)
        ax.set_ylabel(label)
        ax.grid(True, which="both", alpha=0.3)
    ax_e.set_yscale("log")
    ax_e.legend(fontsize=8)


def _plot_calibration(result, default, ax_c):
    """True error against the estimate, every prompt × seed, with the 1.5 × bound."""
    pairs = [(e, s) for p in result["prompts"] for e, s in
             zip(p["points"][default]["rel_l2"], p["points"][default]["estimate"], strict=True)]
    est, true = np.array([s for _, s in pairs]), np.array([e for e, _ in pairs])
    ok = true <= 1.5 * est
    ax_c.scatter(est[ok], true[ok], s=12, color="C0", label="true ≤ 1.5 × estimate")
    ax_c.scatter(est[~ok], true[~ok], s=16, color="C3", label="true > 1.5 × estimate")
    lo, hi = min(est.min(), true.min()) / 1.5, max(est.max(), true.max()) * 1.5
    ax_c.plot([lo, hi], [lo, hi], "--", color="0.5", label="true = estimate")
    ax_c.plot([lo, hi], [1.5 * lo, 1.5 * hi], "-", color="C3", lw=1, label="true = 1.5 × estimate")
    ax_c.set(xscale="log", yscale="log", xlabel="rel_error_estimate", ylabel="true relative L2 error",
             title=f"default: bound holds on {ok.mean():.0%} of prompt × seed")
    ax_c.legend(fontsize=7)
    ax_c.grid(True, which="both", alpha=0.3)


def run(lm, out_dir, ranks=RANKS, probes=PROBES, seeds=3, prompts=PROMPTS, log=print,
        cache: Path | None = None, long: tuple[int, ...] = (), big: bool = False,
        exact: bool = False, only_cached: bool = False,
        points: list[tuple[int, int]] | None = None, ratio_every: int = 1,
        resume: bool = False, frontier_from: Path | None = None,
        prompt_set: Path = VALIDATION) -> dict:
    """Measure everything asked for, write JSON and PNG; return the result. ``only_cached``:
    only the prompts whose exact reference is already in ``cache`` (the count is recorded);
    ``points`` (k, probes) pairs replace the ``ranks`` × ``probes`` grid; the time ratios of
    the points other than the default are measured on every ``ratio_every``-th prompt. The JSON
    is rewritten after every prompt, so a stopped run keeps what it measured; ``resume`` reuses
    the prompts of an earlier JSON in ``out_dir`` measured at every point of this grid;
    ``frontier_from``: an earlier JSON of a larger grid on fewer prompts, whose summary is kept
    as the ``frontier`` (and plotted as it) when this run measures the default alone;
    ``prompt_set``: the file ``prompts`` came from (another than the validation set writes
    ``<its stem>.json/.png`` instead of fisher_accuracy)."""
    name = NAME if Path(prompt_set).resolve() == VALIDATION.resolve() else Path(prompt_set).stem
    set_size = len(prompts_of(prompt_set))
    t0 = time.perf_counter()
    if only_cached and cache:
        prompts = [t for t in prompts if _cached(lm, encode_prompt(lm.tokenizer, t).token_ids, cache)]
    default = default_setting()
    grid = sorted(set(points or [(r, p) for r in ranks for p in probes]) | {default})
    measured: list[dict] = []

    def result_so_far() -> dict:
        return {"environment": environment(lm), "prompt_set": Path(prompt_set).name,
                "prompts_measured": len(measured), "prompts_in_set": set_size,
                "tuned_on": str(TUNING.name), "default": list(default), "seeds": seeds,
                "grid": summarize(measured, grid), "prompts": measured}

    frontier = None  # read first: it may be the very file this run rewrites
    if frontier_from:
        earlier = json.loads(Path(frontier_from).read_text())
        frontier = {"prompts_measured": earlier["prompts_measured"], "seeds": earlier["seeds"],
                    "grid": earlier["grid"]}
    done = {}
    if resume and (out_dir / f"{name}.json").exists():
        keys = ["{},{}".format(*g) for g in grid]
        for p in json.loads((out_dir / f"{name}.json").read_text())["prompts"]:
            # a default measured before the rank check (no probes_used) is not this default
            if all(k in p["points"] for k in keys) and \
                    "probes_used" in p["points"]["{},{}".format(*default)]:
                done[p["text"]] = {**p, "points": {k: p["points"][k] for k in keys}}
    for i, text in enumerate(prompts):
        measured.append(done.get(text) or measure_prompt(lm, text, grid, seeds, cache, log=log,
                                                         ratios=i % ratio_every == 0))
        write_result(out_dir, name, result_so_far())
    result = result_so_far()
    if frontier:
        result["frontier"] = frontier
    target = result["grid"]["{},{}".format(*default)]["median_rel_l2"]
    result["long"] = [long_prompt(lm, n, target, log) for n in long]
    if exact:
        result["exact_check"] = exact_check(lm, prompts[0], log=log)
    if big:
        result["big_model"] = big_model(lm, log=log)
    result["wall_s"] = time.perf_counter() - t0
    write_result(out_dir, name, result)
    plot(result, out_dir, name)
    return result


def summary_rows(result: dict) -> list[list[str]]:
    """Frontier points and the default: setting, error, Spearman, time ratio."""
    default = "{},{}".format(*result["default"])
    rows = []
    for k, v in sorted(result["grid"].items(), key=lambda kv: kv[1]["median_time_ratio"]):
        if v["frontier"] or k == default:
            rows.append([f"k {v['rank']}, probes {v['probes']}" + (" (default)" if k == default else ""),
                         f"{100 * v['median_rel_l2']:.1f} %", f"{v['median_spearman']:.3f}",
                         f"{v['median_time_ratio']:.2f}×"])
    return rows


def main(argv=None) -> int:
    """Command line of this benchmark alone."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_model_args(p)
    p.add_argument("--ranks", default=",".join(map(str, RANKS)))
    p.add_argument("--probes", default=",".join(map(str, PROBES)))
    p.add_argument("--grid", help="(k, probes) points instead of ranks × probes, e.g. 4+4,5+5,8+8")
    p.add_argument("--ratio-every", type=int, default=1,
                   help="time the points other than the default on every N-th prompt only")
    p.add_argument("--resume", action="store_true", help="reuse the prompts of an earlier JSON")
    p.add_argument("--frontier-from", type=Path, help="an earlier JSON whose grid is the frontier")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--prompt-set", type=Path, default=VALIDATION,
                   help="prompts file (default: the validation set; data/fisher_holdout.json: "
                        "the second held-out set)")
    p.add_argument("--prompts", type=int, help="the first N prompts of the set")
    p.add_argument("--cache", type=Path, help="folder caching exact references between runs")
    p.add_argument("--long", default="", help="LAMBADA lengths, e.g. 128,512,1024")
    p.add_argument("--big", action="store_true", help="the 1.2B random model at 512 tokens")
    p.add_argument("--exact-check", action="store_true")
    p.add_argument("--only-cached", action="store_true",
                   help="only prompts whose exact reference is in --cache")
    args = p.parse_args(argv)
    run(load(args), args.out, [int(x) for x in args.ranks.split(",")],
        [int(x) for x in args.probes.split(",")], args.seeds, prompts_of(args.prompt_set)[: args.prompts],
        cache=args.cache, long=tuple(int(x) for x in args.long.split(",") if x),
        big=args.big, exact=args.exact_check, only_cached=args.only_cached,
        points=[tuple(int(x) for x in g.split("+")) for g in args.grid.split(",")] if args.grid else None,
        ratio_every=args.ratio_every, resume=args.resume, frontier_from=args.frontier_from,
        prompt_set=args.prompt_set)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
