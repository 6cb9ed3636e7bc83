"""A node's scripting state: its view of the cluster's function libraries and the script
running on it, which SCRIPT KILL, FUNCTION KILL and FUNCTION STATS act on."""

from __future__ import annotations

from seshat_trio.protocol import ErrorReply, Reply
from seshat_trio.scripting.functions import FunctionView

NOTBUSY = ErrorReply("NOTBUSY No scripts in execution right now.")


class NodeScripting:
    def __init__(self) -> None:
        self.functions = FunctionView()

    def running_function(self) -> Reply:
        """FUNCTION STATS' running_script: the function running on this node, or null."""
        return None

    def kill(self, *, function: bool) -> Reply:
        """SCRIPT KILL (`function` False) or FUNCTION KILL."""
        return NOTBUSY
