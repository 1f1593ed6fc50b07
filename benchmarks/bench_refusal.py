"""How fast a run that cannot fit is refused: wall time of ``jscope attribute … --memory-limit``
in a fresh process (Python start-up included), before any weights load or backward pass runs.

Two models: the embedded one (its converted folder already in the cache, as after a first use)
and a folder holding only the config and tokenizer of the 1.2B-parameter Llama shape of
bench_scale (a refusal never reads weights). Median and worst of ``--repeats`` runs each.

    python -m benchmarks.bench_refusal [--repeats 7]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from .common import RESULTS, write_result

NAME = "refusal"
BIG_CONFIG = dict(architectures=["LlamaForCausalLM"], model_type="llama", vocab_size=49152,
                  hidden_size=2048, intermediate_size=8192, num_hidden_layers=16,
                  num_attention_heads=32, num_key_value_heads=8, max_position_embeddings=8192,
                  tie_word_embeddings=False, torch_dtype="float32", rms_norm_eps=1e-5,
                  bos_token_id=1, eos_token_id=2)
PROMPT = "The cat sat on the mat and looked out of the window at the rain."


def big_folder(where: Path) -> Path:
    """A folder with the 1.2B shape's config.json and the embedded tokenizer's files."""
    from jscope_desktop.engine.model.gguf_cache import convert_gguf, embedded_gguf_path

    source = convert_gguf(embedded_gguf_path())
    folder = where / "llama-1.2b-config-only"
    folder.mkdir()
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (source / name).exists():
            shutil.copy(source / name, folder / name)
    (folder / "config.json").write_text(json.dumps(BIG_CONFIG))
    return folder


def time_refusal(args: list[str], repeats: int) -> dict:
    """Seconds of each refused run (exit status 1 and the one-sentence refusal checked)."""
    seconds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-m", "jscope_desktop.cli", "attribute", PROMPT,
                              *args], capture_output=True, text=True, timeout=300)
        seconds.append(time.perf_counter() - t0)
        if out.returncode != 1 or "This run needs about" not in out.stderr:
            raise SystemExit(f"not refused: {out.returncode} {out.stderr[-300:]}")
    return {"seconds": seconds, "median_s": statistics.median(seconds), "worst_s": max(seconds),
            "sentence": out.stderr.strip()}


def main(argv=None) -> int:
    """Time both refusals, write ``refusal.json``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = big_folder(Path(tmp))
        result = {"repeats": args.repeats,
                  "embedded": time_refusal(["--memory-limit", "100MB"], args.repeats),
                  "llama_1.2b": time_refusal(["--model", str(folder), "--memory-limit", "2GB"],
                                             args.repeats)}
    write_result(args.out, NAME, result)
    for k in ("embedded", "llama_1.2b"):
        print(f"  {k}: median {result[k]['median_s']:.2f} s, worst {result[k]['worst_s']:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
