"""Redis commands: the command table, argument validation and handlers.

Read handlers run against applied state once the backend says a read is safe. Write
handlers validate their arguments and build an `Operation`; the backend replicates it and the
state machine (seshat_trio.kv) decides the reply when it applies.
"""
