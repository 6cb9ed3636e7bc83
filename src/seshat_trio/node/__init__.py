"""The node service: replication of operations, linearizable reads, node-wide state."""
