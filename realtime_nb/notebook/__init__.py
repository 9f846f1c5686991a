"""Everything Jupyter: the widget and its kernel-side bridge, the loopback fast path, magics, plots,
``realtime-nb lab`` and the jupyter_server extension. Built on ``realtime_nb.client``.

Importing this package is cheap; ``widget`` (anywidget), ``plots`` (matplotlib) and ``magics`` (IPython)
load their libraries when they are imported.
"""

from __future__ import annotations

import sys


def in_kernel() -> bool:
    """True inside a Jupyter kernel (where a widget can be shown), False in a terminal or script."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and getattr(shell, "kernel", None) is not None
