"""The sans-I/O Realtime protocol core shared by the client session and the local server.

No sockets, no asyncio: events in, events out. Modules: ``events`` (names, shapes), ``codec`` (JSON
frames), ``ids``, ``errors`` (``EventError``), ``validate`` (client events), ``session_config`` (the
session object), ``dialect`` (beta ⇄ GA), ``conversation`` (ordered items + audio), ``reducer``.
"""
