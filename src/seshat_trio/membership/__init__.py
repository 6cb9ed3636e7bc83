"""Dynamic membership at the node level: join, remove and replace nodes while serving.

`plan` decides a group leader's next membership change (pure); `reconciler` runs it for
every group this node leads. The cluster's wishes (members, retired ids, replication
factor, placement) live in the system group; docs/operations.md has the runbook and
docs/raft.md the Raft side.
"""
