"""The embedded local Realtime server (GA protocol, offline)."""

from .app import LocalServer
from .brains import Brain, BrainError, BrainRequest, Call, CallPart, EchoBrain, Incomplete, Say, SayPart, ScriptedBrain
from .chat_brain import ChatBrain

__all__ = ["Brain", "BrainError", "BrainRequest", "Call", "CallPart", "ChatBrain", "EchoBrain", "Incomplete",
           "LocalServer", "Say", "SayPart", "ScriptedBrain"]
