"""Pure cores: the protocol parser, the token bucket, the crypto envelope, the log filter."""

from __future__ import annotations

import base64
import json
import logging

import pytest

from chatserver import crypto
from chatserver.logprivacy import PrivacyFilter, scrub
from rooms import protocol
from rooms.ratelimit import TokenBucket


def parse(text: str | None) -> protocol.ClientFrame:
    return protocol.parse_client_frame(text, max_bytes=1024, max_chars=10)


def test_protocol_parses_every_client_frame() -> None:
    assert parse('{"type":"send","client_id":"a","body":"hi"}') == protocol.Send(
        client_id="a", body="hi"
    )
    assert parse('{"type":"history","before":5}') == protocol.History(before=5, limit=50)
    assert parse('{"type":"resume","after":0}') == protocol.Resume(after=0)
    assert parse('{"type":"typing"}') == protocol.Typing()
    assert parse('{"type":"delete","seq":3}') == protocol.Delete(seq=3)
    assert parse('{"type":"ping"}') == protocol.Ping()


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (None, "invalid_frame"),
        ("", "bad_json"),
        ("nul\x00", "bad_json"),
        ('{"type":"send","client_id":"a","body":"12345678901"}', "message_too_long"),
        ('{"type":"resume","after":-1}', "invalid_frame"),
        ('{"type":"delete","seq":0}', "invalid_frame"),
        ('{"type":"send","client_id":"' + "a" * 65 + '","body":"x"}', "invalid_frame"),
        ('{"type":"send","client_id":"a","body":"' + "x" * 2000 + '"}', "frame_too_large"),
        ('{"type":"welcome"}', "unknown_type"),
    ],
)
def test_protocol_refusals(text: str | None, code: str) -> None:
    with pytest.raises(protocol.ProtocolError) as info:
        parse(text)
    assert info.value.code == code


def test_multibyte_frames_are_measured_in_bytes() -> None:
    body = "é" * 400  # 400 characters is fine, 800+ bytes with the envelope is not
    text = json.dumps({"type": "send", "client_id": "a", "body": body}, ensure_ascii=False)
    with pytest.raises(protocol.ProtocolError) as info:
        protocol.parse_client_frame(text, max_bytes=800, max_chars=1000)
    assert info.value.code == "frame_too_large"


def test_server_frames_encode_without_empty_optionals() -> None:
    text = protocol.encode(protocol.Error(code="x", message="y"))
    assert json.loads(text) == {"type": "error", "code": "x", "message": "y"}


def test_token_bucket_allows_burst_then_refuses_with_retry_time() -> None:
    bucket = TokenBucket(rate=2.0, burst=3, strikes_allowed=2)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(0.5)
    assert not bucket.abusive
    assert bucket.take(0.1) == pytest.approx(0.4)  # 0.2 tokens refilled, 0.8 to go at 2/s
    assert bucket.abusive
    assert bucket.take(1.0) == 0.0  # refilled; strikes reset
    assert not bucket.abusive


def test_token_bucket_never_exceeds_burst_after_idle() -> None:
    bucket = TokenBucket(rate=100.0, burst=2, strikes_allowed=5)
    bucket.take(0.0)
    bucket.take(1000.0)
    bucket.take(1000.0)
    assert bucket.take(1000.0) > 0


def test_seal_binds_associated_data() -> None:
    key = crypto.new_data_key()
    sealed = crypto.seal(key, b"secret", b"room1|row1")
    assert crypto.open_sealed(key, sealed, b"room1|row1") == b"secret"
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(key, sealed, b"room1|row2")
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(crypto.new_data_key(), sealed, b"room1|row1")
    with pytest.raises(crypto.DecryptionError):
        crypto.open_sealed(key, sealed[:10], b"room1|row1")


def test_nonces_are_fresh() -> None:
    key = crypto.new_data_key()
    nonces = {crypto.seal(key, b"x", b"")[: crypto.NONCE_BYTES] for _ in range(500)}
    assert len(nonces) == 500


def test_keyring_parses_and_rejects_bad_keys() -> None:
    good = crypto.generate_key_line("k1")
    other = crypto.generate_key_line("k2")
    ring = crypto.KeyRing.parse(f"# comment, with a comma\n{good}\n{other}\n", source="file")
    assert ring.active_id == "k1" and set(ring.keys) == {"k1", "k2"}
    assert crypto.KeyRing.parse(f"{other},{good}", source="env").active_id == "k2"
    short = "k3:" + base64.b64encode(b"short").decode()
    for bad in ["", "no-colon", short, "k4:!!notbase64!!", f"{good}\n{good}"]:
        with pytest.raises(crypto.KeyConfigurationError):
            crypto.KeyRing.parse(bad, source="test")


def test_data_key_wrap_is_bound_to_its_row() -> None:
    ring = crypto.KeyRing.parse(crypto.generate_key_line("k1"), source="t")
    dek = crypto.new_data_key()
    kek_id, wrapped = crypto.wrap_data_key(ring, dek, b"1|1|7")
    assert crypto.unwrap_data_key(ring, kek_id, wrapped, b"1|1|7") == dek
    with pytest.raises(crypto.DecryptionError):
        crypto.unwrap_data_key(ring, kek_id, wrapped, b"1|1|8")
    with pytest.raises(crypto.KeyConfigurationError):
        crypto.unwrap_data_key(ring, "gone", wrapped, b"1|1|7")


def test_missing_key_file_is_a_clear_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(crypto.KeyConfigurationError, match="does not exist"):
        crypto.load_keyring(env_keys="", key_file=str(tmp_path / "none"), dev_key_file=None)
    with pytest.raises(crypto.KeyConfigurationError, match="CHATSERVER_KEY_FILE"):
        crypto.load_keyring(env_keys="", key_file="", dev_key_file=None)
    dev = tmp_path / "dev-key"
    first = crypto.load_keyring(env_keys="", key_file="", dev_key_file=dev)
    assert crypto.load_keyring(env_keys="", key_file="", dev_key_file=dev) == first
    assert oct(dev.stat().st_mode & 0o777) == "0o600"


def test_log_scrubbing_removes_addresses_tokens_and_queries() -> None:
    line = "peer 203.0.113.9 and [2001:db8::1] GET /x?sessionid=abc123 token=zzz sessionid=s3cr3t"
    cleaned = scrub(line)
    for secret in ["203.0.113.9", "2001:db8::1", "abc123", "zzz", "s3cr3t"]:
        assert secret not in cleaned


def test_privacy_filter_scrubs_arguments_and_tracebacks() -> None:
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "from %s", ("198.51.100.7",), None)
    try:
        raise ValueError("bad peer 198.51.100.8")
    except ValueError:
        import sys

        record.exc_info = sys.exc_info()
    PrivacyFilter().filter(record)
    assert "198.51.100" not in record.getMessage()
    assert record.exc_text and "198.51.100" not in record.exc_text
