"""The client role: ``Session`` (sync and async faces) and everything under it — the connection on the
shared loop thread, pending replies, operations, tool running, audio input, ``Response``, tool schemas,
the event log and the DataFrame views. Built on ``realtime_nb.protocol``; never imports the notebook
layer or the local server (what it needs of them arrives through ``_hooks``).
"""
