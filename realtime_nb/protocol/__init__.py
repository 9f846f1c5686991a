"""The sans-I/O Realtime protocol core shared by the client session and the local server.

No sockets, no asyncio: events in, events out. Modules: ``events`` (names, shapes), ``codec`` (JSON
frames), ``ids``, ``errors`` (``EventError``), ``validate`` (client events), ``session_config`` (the
session object), ``dialect`` (beta ⇄ GA) and ``ga_shapes`` (which events need it), ``conversation``
(ordered items + audio), ``reducer`` (the dispatch table) with ``responses``, ``items`` and ``timeline``,
``redact`` (keys kept out of logs and reprs). The facts they rely on: ``docs/protocol.md``.
"""
