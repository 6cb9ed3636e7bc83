"""seshat-trio: a distributed, strongly consistent, Redis-compatible key-value store.

Layers depend downward only::

    protocol -> commands -> node (service) -> raft -> storage
                                  transport (beside raft)
"""

__version__ = "0.1.0"
