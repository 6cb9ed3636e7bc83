"""The client-facing protocol layer: Trio moves bytes between sockets and the RESP codec."""
