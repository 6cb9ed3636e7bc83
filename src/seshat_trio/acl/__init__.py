"""Access control for clients: Redis 7's ACL users, rules and checks (sans-IO).

`rules` parses and describes users, `permissions` compiles them against the command table
and checks a command, `categories` derives command categories, `log` is ACL LOG, `seed`
builds the first users from requirepass or an aclfile, `replicated` makes users cluster
state in the system group, and `users` is a node's view of them with each connection's
authentication.
"""
