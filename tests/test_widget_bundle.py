"""The committed widget bundle is built from the committed js/ sources (what `pip install` ships).

The bundle's first line carries the fingerprint of its inputs (js/build.mjs); hatch_build.py computes
the same. `.ci/run` also rebuilds with esbuild and compares byte for byte (`node js/build.mjs --check`).
"""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _hook():
    spec = importlib.util.spec_from_file_location("hatch_build", ROOT / "hatch_build.py")
    assert spec is not None and spec.loader is not None
    pytest.importorskip("hatchling")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_bundle_matches_the_sources():
    hook = _hook()
    assert hook.sources_hash(ROOT) == hook.bundle_hash(ROOT), "js/ changed: run `npm run build` and commit"


def test_bundle_is_self_contained():
    js = (ROOT / "realtime_nb" / "notebook" / "static" / "widget.js").read_text()
    assert "export {" in js and "widget_default as default" in js      # an ES module with a default export
    assert "\nimport " not in js                                         # nothing left to resolve at run time
    assert 'registerProcessor("realtime-nb-player"' in js and 'registerProcessor("realtime-nb-capture"' in js
    assert (ROOT / "realtime_nb" / "notebook" / "static" / "widget.css").read_text().count(".rtnb") > 20


@pytest.mark.skipif(shutil.which("node") is None or not (ROOT / "node_modules" / "esbuild").exists(),
                    reason="needs node and `npm ci`")
def test_rebuild_reproduces_the_committed_bundle():
    out = subprocess.run(["node", "js/build.mjs", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
