"""Plots for teaching and debugging, built from a session's DataFrames (matplotlib, imported lazily).

- ``timeline(s)``: every event on a time axis, one lane per part of the protocol, with a bar per
  response from ``response.created`` to ``response.done`` (out-of-band responses hatched).
- ``waveform(s, item_id)``: an item's audio with the VAD's prefix padding and silence window (user
  audio turns) and the truncation point (interrupted assistant audio).

Both accept a ``Session`` or the DataFrames themselves and return the matplotlib ``Axes``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

LANES = ("client", "input audio / VAD", "conversation", "response", "deltas", "errors")
_COLORS = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")


def lane_of(event_type: str, direction: str) -> str:
    """Which timeline lane an event belongs to."""
    if event_type == "error" or event_type.endswith(".failed"):
        return "errors"
    if direction == "sent":
        return "client"
    if event_type.endswith(".delta"):
        return "deltas"
    if event_type.startswith("input_audio_buffer."):
        return "input audio / VAD"
    if event_type.startswith("conversation."):
        return "conversation"
    return "response"


def _frames(source: Any) -> tuple[Any, Any]:
    events = getattr(source, "events", source)
    responses = getattr(source, "responses", None)
    return events, responses


def timeline(source: Any, *, ax: Any = None, since: float | None = None, until: float | None = None,
             annotate: bool = True) -> Any:
    """Plot the event flow of a session (or of an events DataFrame) and return the Axes.

    >>> rt.plots.timeline(s)            # doctest: +SKIP
    """
    import matplotlib.pyplot as plt

    events, responses = _frames(source)
    oob_ids: set[str] = set()
    if responses is not None and len(responses):
        oob_ids = set(responses.loc[responses["conversation"] == "none", "response_id"])
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 3.6))
    df = events
    if since is not None:
        df = df[df["t"] >= since]
    if until is not None:
        df = df[df["t"] <= until]
    ymap = {name: len(LANES) - 1 - i for i, name in enumerate(LANES)}
    colors: dict[str, str] = {}
    for rid in df["response_id"].dropna().unique():
        colors[rid] = _COLORS[len(colors) % len(_COLORS)]
    lanes = [lane_of(t, d) for t, d in zip(df["type"], df["direction"], strict=True)]
    ys = np.array([ymap[name] for name in lanes], dtype=float)
    cs = [colors.get(r, "#333333") if isinstance(r, str) else "#333333" for r in df["response_id"]]
    is_delta = np.array([name == "deltas" for name in lanes])
    t = df["t"].to_numpy(dtype=float)
    ax.scatter(t[~is_delta], ys[~is_delta], c=[c for c, d in zip(cs, is_delta, strict=True) if not d], s=28,
               zorder=3, edgecolors="white", linewidths=0.5)
    ax.vlines(t[is_delta], ys[is_delta] - 0.25, ys[is_delta] + 0.25,
              colors=[c for c, d in zip(cs, is_delta, strict=True) if d], linewidths=0.8, alpha=0.6)
    # one bar per response, created -> done
    for rid, color in colors.items():
        rows = df[df["response_id"] == rid]
        created = rows[rows["type"] == "response.created"]["t"]
        done = rows[rows["type"] == "response.done"]["t"]
        if len(created) == 0:
            continue
        start = float(created.iloc[0])
        end = float(done.iloc[-1]) if len(done) else float(rows["t"].max())
        oob = rid in oob_ids
        ax.barh(ymap["response"], max(end - start, 1e-3), left=start, height=0.6, color=color, alpha=0.18,
                hatch="//" if oob else None, edgecolor=color)
        if annotate:
            ax.annotate(("OOB " if oob else "") + rid[-6:], (start, ymap["response"] + 0.35), fontsize=7, color=color)
    if annotate:
        marks = df[df["type"].isin(["input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped",
                                         "conversation.item.truncated", "error"])]
        for n, (_, row) in enumerate(marks.iterrows()):
            label = row["type"].split(".")[-1] if row["type"] != "error" else f"error: {row['error_code']}"
            dy = 0.3 if n % 2 else -0.45  # alternate above/below so neighbouring marks stay readable
            ax.annotate(label, (row["t"], ymap[lane_of(row["type"], row["direction"])] + dy), fontsize=7,
                        color="#c44e52" if row["type"] == "error" else "#555555")
    ax.set_yticks([ymap[name] for name in LANES], LANES)
    ax.set_ylim(-0.8, len(LANES) - 0.2)
    ax.set_xlabel("seconds since connect")
    ax.grid(axis="x", alpha=0.3)
    ax.set_title("Realtime event flow")
    return ax


def waveform(source: Any, item_id: str, *, ax: Any = None, audio: np.ndarray | None = None,
             items: Any = None, turn_detection: dict[str, Any] | None = None) -> Any:
    """Plot an item's audio with VAD padding/silence and truncation marks; return the Axes."""
    import matplotlib.pyplot as plt

    if audio is None:
        audio = source.item_audio(item_id)
    if items is None:
        items = source.items
    if turn_detection is None and hasattr(source, "config"):
        turn_detection = ((source.config or {}).get("audio", {}).get("input", {}) or {}).get("turn_detection")
    if ax is None:
        _, ax = plt.subplots(figsize=(11, 2.8))
    ms = np.arange(len(audio)) / 24.0
    ax.plot(ms, audio.astype(np.float32) / 32768.0, linewidth=0.5, color="#4c72b0")
    row = items[items["item_id"] == item_id]
    role = row["role"].iloc[0] if len(row) else None
    total = len(audio) / 24.0
    if role == "user" and turn_detection and turn_detection.get("type") == "server_vad" and total > 0:
        pad = float(turn_detection.get("prefix_padding_ms", 0))
        sil = float(turn_detection.get("silence_duration_ms", 0))
        ax.axvspan(0, min(pad, total), color="#dd8452", alpha=0.15, label=f"prefix padding {pad:.0f} ms")
        ax.axvspan(max(0.0, total - sil), total, color="#55a868", alpha=0.15, label=f"silence window {sil:.0f} ms")
    if len(row) and "truncated_at_ms" in row and not np.isnan(float(row["truncated_at_ms"].iloc[0] or np.nan)):
        cut = float(row["truncated_at_ms"].iloc[0])
        ax.axvline(cut, color="#c44e52", linewidth=1.5, label=f"truncated at {cut:.0f} ms")
    label = f"{role or 'item'} {item_id}"
    if len(row) and isinstance(row["text"].iloc[0], str) and row["text"].iloc[0]:
        text = row["text"].iloc[0]
        label += f": “{text[:60]}{'…' if len(text) > 60 else ''}”"
    ax.set_title(label, fontsize=9)
    ax.set_xlabel("ms")
    ax.set_ylim(-1, 1)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper right", fontsize=7)
    return ax
