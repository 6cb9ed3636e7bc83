"""Pub/Sub: channels, patterns and shard channels across the cluster, keyspace notifications.

Module map: registry (this node's subscriptions; delivers one message to the local
subscribers, sans-IO), client (one connection's subscriptions, its subscribed-mode rules and
how a message reaches it), hub (the node's pub/sub: local delivery, fan-out to the other
nodes over the transport, receiver counts, cluster-wide PUBSUB answers), commands (SUBSCRIBE
... PUBSUB), notify (notify-keyspace-events flags and channels).

Messages never enter the Raft log: PUBLISH delivers on its node and sends one `Publish`
frame per peer (docs/protocol.md), each peer delivering to its own subscribers.
"""
