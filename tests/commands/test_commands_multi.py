"""MULTI/EXEC/DISCARD/WATCH on the leader and on a follower (whole transaction forwarded)."""

from __future__ import annotations

from replicas import Client, Replicas

from seshat_trio.protocol import ErrorReply as Err

EXECABORT = Err("EXECABORT Transaction discarded because of previous errors.")
EXEC_ARITY_ABORT = Err(
    "EXECABORT Transaction discarded because of: wrong number of arguments for 'exec' command"
)


async def test_exec_applies_every_queued_command_in_one_entry(
    client: Client, replicas: Replicas
) -> None:
    before = replicas.index
    replies = await client.pipeline(
        [
            ("MULTI",),
            ("SET", "a", "1"),
            ("INCR", "a"),
            ("GET", "a"),
            ("INCR", "notnum"),
            ("PING",),
            ("ECHO", "hi"),
            ("EXEC",),
        ]
    )
    assert replies[:7] == [b"OK"] + [b"QUEUED"] * 6
    assert replies[7] == [b"OK", 2, b"2", 1, b"PONG", b"hi"]
    assert replicas.index == before + 1  # one log entry


async def test_runtime_errors_inside_exec_do_not_undo_the_rest(client: Client) -> None:
    await client.call("SET", "s", "text")
    replies = await client.pipeline(
        [("MULTI",), ("INCR", "s"), ("SET", "t", "1"), ("SET", "u", "1", "BAD"), ("EXEC",)]
    )
    assert replies[-1] == [
        Err("ERR value is not an integer or out of range"),
        b"OK",
        Err("ERR syntax error"),
    ]
    assert await client.call("GET", "t") == b"1"


async def test_queueing_errors_abort_the_transaction(client: Client) -> None:
    replies = await client.pipeline(
        [
            ("MULTI",),
            ("SET", "a", "1"),
            ("GET",),
            ("NOSUCH", "x"),
            ("SET", "k" * 300, "v"),
            ("CONFIG", "GET", "save"),
            ("EXEC",),
        ]
    )
    assert replies == [
        b"OK",
        b"QUEUED",
        Err("ERR wrong number of arguments for 'get' command"),
        Err("ERR unknown command 'NOSUCH', with args beginning with: 'x' "),
        Err("ERR key too large (max 256 bytes)"),
        Err("ERR Command not allowed inside a transaction"),
        EXECABORT,
    ]
    assert await client.call("EXISTS", "a") == 0


async def test_transaction_controls(client: Client) -> None:
    assert await client.pipeline(
        [
            ("EXEC",),
            ("DISCARD",),
            ("MULTI",),
            ("MULTI",),
            ("WATCH", "x"),
            ("SET", "a", "1"),
            ("DISCARD",),
            ("EXISTS", "a"),
            ("EXEC", "extra"),
            ("MULTI",),
            ("EXEC",),
        ]
    ) == [
        Err("ERR EXEC without MULTI"),
        Err("ERR DISCARD without MULTI"),
        b"OK",
        Err("ERR MULTI calls can not be nested"),
        Err("ERR WATCH inside MULTI is not allowed"),
        b"QUEUED",
        b"OK",
        0,
        EXEC_ARITY_ABORT,
        b"OK",
        [],
    ]


async def test_a_wrong_arity_transaction_control_aborts_the_transaction(client: Client) -> None:
    # Redis 7.0.15: the arity error is a queueing error for every command, controls included.
    for control in [("DISCARD", "x"), ("WATCH",), ("MULTI", "x"), ("RESET", "x")]:
        name = control[0].lower()
        assert await client.pipeline(
            [("MULTI",), ("SET", "a", "1"), control, ("EXEC",), ("EXISTS", "a")]
        ) == [
            b"OK",
            b"QUEUED",
            Err(f"ERR wrong number of arguments for '{name}' command"),
            EXECABORT,
            0,
        ], control


async def test_exec_with_arguments_inside_multi_discards_the_transaction(
    client: Client,
) -> None:
    # Redis 7.0.15 aborts EXEC itself: the transaction is gone, the next EXEC has no MULTI.
    assert await client.pipeline(
        [("MULTI",), ("SET", "a", "1"), ("EXEC", "x"), ("EXEC",), ("EXISTS", "a")]
    ) == [b"OK", b"QUEUED", EXEC_ARITY_ABORT, Err("ERR EXEC without MULTI"), 0]


async def test_watch_aborts_exec_when_another_client_changed_the_key(
    client: Client, replicas: Replicas
) -> None:
    other = Client(replicas.leader, replicas.config)
    await client.call("SET", "w", "1")
    assert await client.call("WATCH", "w", "absent") == b"OK"
    await other.call("SET", "w", "2")
    assert await client.pipeline([("MULTI",), ("SET", "w", "mine"), ("EXEC",)]) == [
        b"OK",
        b"QUEUED",
        None,
    ]
    assert await client.call("GET", "w") == b"2"
    # EXEC ended the watch: the next transaction runs.
    assert (await client.pipeline([("MULTI",), ("SET", "w", "mine"), ("EXEC",)]))[-1] == [b"OK"]


async def test_watch_sees_creation_deletion_and_expiry(client: Client, replicas: Replicas) -> None:
    other = Client(replicas.leader, replicas.config)
    for change in (("SET", "absent", "x"), ("DEL", "present"), ("PEXPIRE", "present", "50")):
        await other.call("SET", "present", "p")
        await other.call("DEL", "absent")
        await client.call("WATCH", "absent", "present")
        await other.call(*change)
        if change[0] == "PEXPIRE":
            replicas.advance(100)
        replies = await client.pipeline([("MULTI",), ("PING",), ("EXEC",)])
        assert replies[-1] is None, change


async def test_unchanged_watch_lets_exec_run_and_unwatch_forgets(
    client: Client, replicas: Replicas
) -> None:
    other = Client(replicas.leader, replicas.config)
    await client.call("WATCH", "k")
    await other.call("SET", "unrelated", "1")
    assert (await client.pipeline([("MULTI",), ("SET", "k", "1"), ("EXEC",)]))[-1] == [b"OK"]
    await client.call("WATCH", "k")
    await other.call("SET", "k", "2")
    assert await client.call("UNWATCH") == b"OK"
    assert (await client.pipeline([("MULTI",), ("GET", "k"), ("EXEC",)]))[-1] == [b"2"]


async def test_reset_discards_the_transaction(client: Client) -> None:
    assert await client.pipeline(
        [("MULTI",), ("SET", "a", "1"), ("RESET",), ("EXEC",), ("EXISTS", "a")]
    ) == [b"OK", b"QUEUED", b"RESET", Err("ERR EXEC without MULTI"), 0]


async def test_follower_forwards_the_whole_transaction_once(replicas: Replicas) -> None:
    follower = Client(replicas.follower, replicas.config)
    replies = await follower.pipeline(
        [("MULTI",), ("SET", "a", "1"), ("TTL", "a"), ("TIME",), ("EXEC",)]
    )
    assert replies[:4] == [b"OK", b"QUEUED", b"QUEUED", b"QUEUED"]
    assert replies[4][:2] == [b"OK", -1]  # type: ignore[index]
    # TIME inside EXEC is the operation's time: the leader's clock, not the follower's.
    assert replies[4][2][0] == str(replicas.leader.clock_ms // 1000).encode()  # type: ignore[index]
    (run,) = replicas.follower.forwarded
    assert len(run) == 1 and run[0][0] == b"EXEC" and len(run[0]) == 2


async def test_a_client_cannot_send_the_internal_exec_form(leader_client: Client) -> None:
    assert await leader_client.call("EXEC", "payload") == EXEC_ARITY_ABORT


async def test_a_malformed_forwarded_transaction_is_refused(replicas: Replicas) -> None:
    forwarded = Client(replicas.leader, replicas.config)
    forwarded.ctx.client.forwarded = True
    reply = await forwarded.call("EXEC", "garbage")
    assert isinstance(reply, Err) and reply.text.startswith("ERR malformed transaction")


async def test_a_transaction_reply_too_large_for_the_link_says_it_ran(replicas: Replicas) -> None:
    # The whole EXEC reply travels back in one frame: beyond the frame limit it is replaced
    # by an error (the link would drop otherwise); the transaction still ran, exactly once.
    replicas.max_forward_payload_bytes = 1_000
    follower = Client(replicas.follower, replicas.config)
    value = "v" * 600
    replies = await follower.pipeline(
        [("MULTI",), ("SET", "a", value), ("GET", "a"), ("GET", "a"), ("EXEC",), ("INCR", "n")]
    )
    assert replies[:4] == [b"OK", b"QUEUED", b"QUEUED", b"QUEUED"]
    error = replies[4]
    assert isinstance(error, Err)
    assert error.text.startswith("ERR the reply (")
    assert "the command ran on the leader" in error.text
    assert replies[5] == 1  # the reply after it is intact: the split stayed aligned
    assert await follower.call("STRLEN", "a") == 600
