"""The private implementation of ``realtime_nb.audio``, one concern per module.

Import from ``realtime_nb.audio`` (the public face, which re-exports these); nothing here imports it back.
``pcm`` holds the int16 representation and its conversions, ``resample`` the polyphase resampler,
``g711`` µ-law/A-law, ``wire`` the Realtime wire formats, ``wav`` RIFF/WAVE files, ``decode`` every
other audio file (FFmpeg through PyAV).
"""
