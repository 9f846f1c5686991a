"""Local servers for the node conformance test (tests/node/agents_realtime.test.mjs).

Starts two ``LocalServer``s on free loopback ports (fast pace, and real-time pace for barge-in), writes a
spoken utterance (tests/speechgen.py) as raw 24 kHz PCM16 to the path given as the first argument, prints
one JSON line ``{"fast": url, "slow": url}`` and serves until its stdin closes.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from speechgen import make_utterance

from realtime_nb.server import LocalServer


def main() -> None:
    pcm, _ = make_utterance([("silence", 800), ("speech", "What is my horoscope for Aquarius today"),
                             ("silence", 1500)])
    Path(sys.argv[1]).write_bytes(pcm.astype("<i2").tobytes())
    with LocalServer() as fast, LocalServer(pace="realtime") as slow:
        print(json.dumps({"fast": fast.url, "slow": slow.url}), flush=True)
        sys.stdin.read()  # until the test closes our stdin (or ends)


if __name__ == "__main__":
    main()
