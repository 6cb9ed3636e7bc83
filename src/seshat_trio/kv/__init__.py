"""The replicated key-value state machine.

Everything under this package is deterministic: applying the same operations at the same
log indexes on any node gives byte-identical data. Nothing here reads a clock; the only
time apply may use is the one the proposer (the leader) wrote into the operation.
"""
