"""The embedded local Realtime server (GA protocol, offline)."""

from .app import LocalServer
from .brain_api import Brain, BrainError, BrainRequest, Call, CallPart, Incomplete, Say, SayPart
from .brains import EchoBrain, ScriptedBrain
from .chat_brain import ChatBrain

__all__ = ["Brain", "BrainError", "BrainRequest", "Call", "CallPart", "ChatBrain", "EchoBrain", "Incomplete",
           "LocalServer", "Say", "SayPart", "ScriptedBrain"]
