"""Hatch build hook: rebuild the widget bundle (realtime_nb/notebook/static/widget.js) from js/ when needed.

The bundle is committed, so ``pip install`` works without Node. When the sources in js/ (or the
locked esbuild version) changed since the committed bundle was built, and Node and npm are available,
the hook runs ``npm ci`` (if esbuild is not installed yet) and ``node js/build.mjs``. Without Node, or
if the build fails, it keeps the committed bundle and says so. ``REALTIME_NB_SKIP_JS=1`` skips it.

"Changed" is decided by content, not file times (a fresh clone's times are arbitrary): the bundle's
first line records a hash of its inputs, computed here exactly as ``js/build.mjs`` does.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

BUNDLE = Path("realtime_nb") / "notebook" / "static" / "widget.js"
_STAMP = re.compile(r"\(sources ([0-9a-f]{16})\)")


def sources_hash(root: Path) -> str | None:
    """The fingerprint js/build.mjs writes into the bundle (None without js/, e.g. a bare wheel build)."""
    js = root / "js"
    if not js.is_dir() or not (root / "package-lock.json").exists():
        return None
    files = sorted(p.relative_to(root).as_posix() for p in js.rglob("*") if p.is_file())
    files.append("package-lock.json")
    h = hashlib.sha256()
    for name in files:
        h.update(name.encode() + b"\0")
        h.update((root / name).read_bytes())
        h.update(b"\0")
    return h.hexdigest()[:16]


def bundle_hash(root: Path) -> str | None:
    bundle = root / BUNDLE
    if not bundle.exists():
        return None
    with bundle.open(encoding="utf-8") as f:
        match = _STAMP.search(f.readline())
    return match.group(1) if match else None


class WidgetBundleHook(BuildHookInterface):  # type: ignore[type-arg]
    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        root = Path(self.root)
        if os.environ.get("REALTIME_NB_SKIP_JS", "").strip() not in ("", "0"):
            return
        wanted = sources_hash(root)
        if wanted is None or wanted == bundle_hash(root):
            return  # nothing to build from, or the committed bundle is current
        have_bundle = (root / BUNDLE).exists()
        node, npm = shutil.which("node"), shutil.which("npm")
        if node is None or npm is None:
            self._keep(have_bundle, "Node.js/npm not found")
            return
        try:
            if not (root / "node_modules" / "esbuild").exists():
                self._run([npm, "ci", "--no-audit", "--no-fund"], root)
            self._run([node, "js/build.mjs"], root)
        except (OSError, subprocess.CalledProcessError) as exc:
            self._keep(have_bundle, f"the build failed ({exc})")

    def _run(self, cmd: list[str], cwd: Path) -> None:
        self.app.display_info(f"realtime-nb: {' '.join(Path(cmd[0]).name if i == 0 else c for i, c in enumerate(cmd))}")
        subprocess.run(cmd, cwd=cwd, check=True, stdout=sys.stderr)

    def _keep(self, have_bundle: bool, why: str) -> None:
        if not have_bundle:
            raise RuntimeError(f"realtime-nb: cannot build the widget bundle ({why}) and none is committed; "
                               "install Node.js >= 18 and npm, or set REALTIME_NB_SKIP_JS=1")
        self.app.display_warning(f"realtime-nb: js/ changed but {why}; keeping the committed widget bundle")
