"""The embedded local Realtime server (GA protocol, offline)."""

from .app import LocalServer
from .brains import Brain, BrainRequest, Call, EchoBrain, Say, ScriptedBrain

__all__ = ["Brain", "BrainRequest", "Call", "EchoBrain", "LocalServer", "Say", "ScriptedBrain"]
