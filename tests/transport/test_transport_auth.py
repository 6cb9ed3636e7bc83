"""Peer authentication, sans-IO: proofs, rotation, session keys, tagged frames."""

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from seshat_trio.transport import ClusterSecrets, FrameDecoder, encode_frame
from seshat_trio.transport.auth import Role, Transcript, new_nonce, session_keys
from seshat_trio.transport.errors import ForgedFrame
from seshat_trio.transport.messages import FEATURE_CLIENT_TLS_PORT

OLD = b"o" * 32
NEW = b"n" * 32
OTHER = b"x" * 32


def transcript(**changes: object) -> Transcript:
    fields: dict[str, object] = {
        "version": 3,
        "dialler": 1,
        "acceptor": 2,
        "dialler_nonce": b"a" * 32,
        "acceptor_nonce": b"b" * 32,
        "dialler_addr": "127.0.0.1:6379",
        "acceptor_addr": "127.0.0.1:6380",
        "dialler_features": 1,
        "acceptor_features": 1,
        **changes,
    }
    return Transcript(**fields)  # type: ignore[arg-type]


def test_a_proof_verifies_only_for_its_role_and_transcript() -> None:
    secrets = ClusterSecrets((NEW,))
    proofs = secrets.proofs(Role.DIALLER, transcript())
    assert secrets.verify(Role.DIALLER, transcript(), proofs) == NEW
    # Reflected to the other role, or replayed on a connection with other nonces, ids or
    # addresses, the same proof is worthless.
    assert secrets.verify(Role.ACCEPTOR, transcript(), proofs) is None
    for change in (
        {"acceptor_nonce": b"c" * 32},
        {"dialler_nonce": b"c" * 32},
        {"dialler": 99},
        {"acceptor": 3},
        {"dialler_addr": "10.0.0.1:6379"},
        {"version": 1},
        {"dialler_features": 0},
        {"acceptor_features": 0},
    ):
        assert secrets.verify(Role.DIALLER, transcript(**change), proofs) is None, change
    assert ClusterSecrets((OTHER,)).verify(Role.DIALLER, transcript(), proofs) is None


def test_tls_client_ports_are_proven_when_both_hellos_carry_them() -> None:
    secrets = ClusterSecrets((NEW,))
    both = FEATURE_CLIENT_TLS_PORT | 1
    tls = transcript(
        dialler_features=both, acceptor_features=both, dialler_tls_port=6390, acceptor_tls_port=0
    )
    proofs = secrets.proofs(Role.DIALLER, tls)
    assert secrets.verify(Role.DIALLER, tls, proofs) == NEW
    # A port altered on the path (a TLS client sent elsewhere) fails the handshake.
    for change in ({"dialler_tls_port": 6391}, {"acceptor_tls_port": 6390}):
        altered = attrs.evolve(tls, **change)  # type: ignore[arg-type]
        assert secrets.verify(Role.DIALLER, altered, proofs) is None, change
    # A peer of an older build (no features bit 3) proves the transcript without ports, so
    # the two still meet; the ports it cannot know are then left out on both sides.
    old = transcript(dialler_features=both, acceptor_features=1, dialler_tls_port=6390)
    assert secrets.verify(Role.DIALLER, old, secrets.proofs(Role.DIALLER, transcript(
        dialler_features=both, acceptor_features=1))) == NEW  # fmt: skip


def test_rotation_two_secrets_meet_one() -> None:
    """Mid-rotation nodes (new, old) talk to nodes on either secret; the secret they agree
    on is the one both hold."""
    rotating = ClusterSecrets((NEW, OLD))
    dialler = Role.DIALLER
    for other, shared in ((ClusterSecrets((OLD,)), OLD), (ClusterSecrets((NEW,)), NEW)):
        # rotating dials other, and other dials rotating
        assert other.verify(dialler, transcript(), rotating.proofs(dialler, transcript())) == shared
        assert rotating.verify(dialler, transcript(), other.proofs(dialler, transcript())) == shared
    assert (
        ClusterSecrets((NEW,)).verify(
            Role.DIALLER, transcript(), ClusterSecrets((OLD,)).proofs(Role.DIALLER, transcript())
        )
        is None
    )


def test_secrets_are_bounded() -> None:
    with pytest.raises(ValueError, match="between 1 and 2"):
        ClusterSecrets((NEW, OLD, OTHER))
    assert not ClusterSecrets.none().configured
    assert ClusterSecrets((NEW,)).configured


def test_session_keys_pair_up_and_differ_per_connection() -> None:
    dialler = session_keys(NEW, transcript(), Role.DIALLER)
    acceptor = session_keys(NEW, transcript(), Role.ACCEPTOR)
    frame = encode_frame(b"payload")
    assert dialler.send.tag(frame) == acceptor.receive.tag(frame)
    assert acceptor.send.tag(frame) == dialler.receive.tag(frame)
    other = session_keys(NEW, transcript(acceptor_nonce=new_nonce()), Role.ACCEPTOR)
    assert session_keys(NEW, transcript(), Role.DIALLER).send.tag(frame) != other.receive.tag(frame)


def _pair() -> tuple[object, FrameDecoder]:
    keys = session_keys(NEW, transcript(), Role.DIALLER)
    decoder = FrameDecoder(1 << 10)
    decoder.authenticate(session_keys(NEW, transcript(), Role.ACCEPTOR).receive, 1 << 20)
    return keys.send, decoder


def _sealed(mac: object, payloads: list[bytes]) -> list[bytes]:
    frames = [encode_frame(p) for p in payloads]
    return [f + mac.tag(f) for f in frames]  # type: ignore[attr-defined]


@given(st.lists(st.binary(min_size=1, max_size=50), min_size=1, max_size=8), st.data())
def test_tagged_frames_decode_in_order_at_any_split(
    payloads: list[bytes], data: st.DataObject
) -> None:
    mac, decoder = _pair()
    wire = b"".join(_sealed(mac, payloads))
    cut = data.draw(st.integers(0, len(wire)))
    got = []
    for part in (wire[:cut], wire[cut:]):
        decoder.feed(part)
        while (frame := decoder.next_frame()) is not None:
            got.append(frame)
    assert got == payloads


@pytest.mark.parametrize("attack", ["flip-bit", "replay", "reorder", "drop", "foreign-key"])
def test_altered_replayed_reordered_or_dropped_frames_fail(attack: str) -> None:
    mac, decoder = _pair()
    frames = _sealed(mac, [b"first", b"second", b"third"])
    if attack == "flip-bit":
        frames[1] = frames[1][:6] + bytes([frames[1][6] ^ 1]) + frames[1][7:]
    elif attack == "replay":
        frames[1] = frames[0]
    elif attack == "reorder":
        frames[1], frames[2] = frames[2], frames[1]
    elif attack == "drop":
        del frames[1]
    else:  # a frame sealed for another connection
        stranger = session_keys(NEW, transcript(dialler_nonce=new_nonce()), Role.DIALLER)
        frames[1] = _sealed(stranger.send, [b"second"])[0]
    decoder.feed(b"".join(frames))
    assert decoder.next_frame() == b"first"
    with pytest.raises(ForgedFrame):
        decoder.next_frame()
    with pytest.raises(ForgedFrame):  # and it stays failed
        decoder.feed(b"more")


def test_frames_before_authentication_are_held_to_the_small_limit() -> None:
    decoder = FrameDecoder(4096)
    decoder.feed(b"\x00\x10\x00\x00")  # announces 1 MiB
    with pytest.raises(Exception, match="max_frame_bytes"):
        decoder.next_frame()
