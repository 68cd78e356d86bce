"""All cryptography of the project, in one module.

Nothing else imports ``secrets``, ``hmac``, ``hashlib`` or cryptographic primitives, so a
reviewer reads one file to know what protects a survivor's words (Django keeps its own in
``django.utils.crypto`` for the same reason).

Design, in short (the threat model is in docs/security.md):

* Message bodies are sealed with AES-256-GCM under a data-encryption key (DEK). DEKs are
  per room, per key epoch and per membership, so erasing one member destroys exactly their
  keys. A random 96-bit nonce is drawn for every seal; at the volumes of a chat room a key
  seals far fewer than 2**32 messages before its epoch is rotated, which keeps the nonce
  collision risk negligible (NIST SP 800-38D, section 8.3).
* Associated data binds each ciphertext to its room, its row and its key version, so a
  ciphertext copied into another row or room fails to open.
* DEKs are stored only wrapped (AES-256-GCM) by a key-encryption key (KEK). KEKs come from
  the environment or a key file, never from the database, and are named by an id so a new
  one can be introduced while old wraps still open.
* Secrets that are already random and long (recovery phrases, session keys, set-up codes)
  and values that must never be kept as they are (client addresses in the throttle, a
  recovery phrase's lookup words) are hashed with HMAC-SHA256 under a key derived from the
  server secret (``SECRET_KEY``) for one purpose each. A keyed hash costs
  microseconds, where argon2 cost 100 MiB and a fifth of a second per call (issue 13, row 3),
  and without the server secret a stolen table of them cannot be tested against guesses.
* The audit log is chained under HMAC-SHA256 with a key derived from ``AUDIT_KEY`` (by
  default ``SECRET_KEY``), never kept in the database, so whoever can write the tables cannot
  recompute the chain after removing an entry. Its head is checkpointed outside the database
  with an Ed25519 signature under a second key derived from the same secret: the public half
  checks a checkpoint without the database, and cannot make one.
* Slow password hashing (argon2, for staff passwords only) runs behind a small semaphore, so
  a burst of sign-ins cannot take the process's memory.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import logging
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.core import signing

logger = logging.getLogger(__name__)

KEY_BYTES = 32
NONCE_BYTES = 12
_T = TypeVar("_T")


class KeyConfigurationError(Exception):
    """The key-encryption keys are missing or malformed: the server must not start."""


class DecryptionError(Exception):
    """A ciphertext did not open: wrong key, wrong row, or corrupted bytes."""


# --- randomness and tokens -------------------------------------------------------------


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def random_slug(nbytes: int = 16) -> str:
    """A random name for a URL path (lower-case base32, no padding): 16 bytes are 128 bits,
    so a private room named this way cannot be found by guessing or counting."""
    return base64.b32encode(secrets.token_bytes(nbytes)).decode().rstrip("=").lower()


def random_choice(items: Sequence[_T]) -> _T:
    return secrets.choice(items)


def random_phrase(words: Sequence[str], count: int) -> str:
    """``count`` words, each drawn uniformly and independently from ``words``: the phrase
    carries ``count * log2(len(words))`` bits, whatever the words are."""
    return " ".join(secrets.choice(words) for _ in range(count))


def random_bytes(nbytes: int) -> bytes:
    return secrets.token_bytes(nbytes)


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    if isinstance(a, str):
        a = a.encode()
    if isinstance(b, str):
        b = b.encode()
    return hmac.compare_digest(a, b)


def fingerprint(value: str) -> str:
    """A one-way name for a secret (session key, invite code) that may be stored or used as
    a channel-layer group name without revealing the secret itself. The inputs are high
    entropy random tokens, so a fast hash is enough: there is nothing to brute-force."""
    return hashlib.sha256(value.encode()).hexdigest()[:40]


def generate_key_line(key_id: str) -> str:
    """One line of a key file: ``KEY_ID:BASE64_32_BYTES``."""
    return f"{key_id}:{base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode()}"


# --- key-encryption keys ------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRing:
    """The configured KEKs. The first one is active: new wraps use it."""

    keys: dict[str, bytes]
    active_id: str

    @classmethod
    def parse(cls, text: str, *, source: str) -> KeyRing:
        keys: dict[str, bytes] = {}
        active: str | None = None
        lines = [line.split("#", 1)[0] for line in text.splitlines()]
        entries = [e.strip() for line in lines for e in line.split(",")]
        for number, line in enumerate((e for e in entries if e), start=1):
            key_id, sep, encoded = line.partition(":")
            if not sep or not key_id or len(key_id) > 32:
                raise KeyConfigurationError(
                    f"{source}: entry {number} must look like KEY_ID:BASE64_32_BYTES"
                )
            try:
                key = base64.b64decode(encoded, validate=True)
            except ValueError:
                raise KeyConfigurationError(
                    f"{source}: key {key_id!r} is not valid base64"
                ) from None
            if len(key) != KEY_BYTES:
                raise KeyConfigurationError(
                    f"{source}: key {key_id!r} must be {KEY_BYTES} bytes, not {len(key)}"
                )
            if key_id in keys:
                raise KeyConfigurationError(f"{source}: key id {key_id!r} appears twice")
            keys[key_id] = key
            active = active or key_id
        if active is None:
            raise KeyConfigurationError(f"{source}: no key-encryption key found")
        return cls(keys=keys, active_id=active)

    def key(self, key_id: str) -> bytes:
        try:
            return self.keys[key_id]
        except KeyError:
            raise KeyConfigurationError(
                f"key-encryption key {key_id!r} is not configured; add it to the key file"
            ) from None


def load_keyring(*, env_keys: str, key_file: str, dev_key_file: Path | None) -> KeyRing:
    """Load KEKs from ``CHATSERVER_KEYS`` or ``CHATSERVER_KEY_FILE``; on a laptop (DEBUG),
    create a development key file so the one-command start works."""
    if env_keys.strip():
        return KeyRing.parse(env_keys, source="CHATSERVER_KEYS")
    if key_file:
        path = Path(key_file)
        if not path.is_file():
            raise KeyConfigurationError(f"CHATSERVER_KEY_FILE {key_file!r} does not exist")
        return KeyRing.parse(path.read_text(), source="CHATSERVER_KEY_FILE")
    if dev_key_file is None:
        raise KeyConfigurationError(
            "no key-encryption key: set CHATSERVER_KEY_FILE (or CHATSERVER_KEYS)"
        )
    if not dev_key_file.exists():
        dev_key_file.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(dev_key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(
                "# DEVELOPMENT key-encryption key, generated on first start.\n"
                "# Never use this file in production.\n" + generate_key_line("dev1") + "\n"
            )
        logger.warning(
            "GENERATED A DEVELOPMENT MASTER KEY in the data directory. "
            "It is for trying the server on a laptop only: anyone with this file can read "
            "every stored message. Set CHATSERVER_KEY_FILE in production."
        )
    return KeyRing.parse(dev_key_file.read_text(), source=str(dev_key_file.name))


# --- sealing ------------------------------------------------------------------------------


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes | AESGCM, plaintext: bytes, aad: bytes) -> bytes:
    """AES-256-GCM with a fresh random nonce; returns ``nonce || ciphertext || tag``."""
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return nonce + aead.encrypt(nonce, plaintext, aad)


def open_sealed(key: bytes | AESGCM, sealed: bytes, aad: bytes) -> bytes:
    aead = key if isinstance(key, AESGCM) else AESGCM(key)
    if len(sealed) < NONCE_BYTES + 16:
        raise DecryptionError("ciphertext too short")
    try:
        return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
    except InvalidTag:
        raise DecryptionError("ciphertext did not authenticate") from None


def wrap_data_key(ring: KeyRing, dek: bytes, aad: bytes) -> tuple[str, bytes]:
    return ring.active_id, seal(ring.key(ring.active_id), dek, b"dek|" + aad)


def unwrap_data_key(ring: KeyRing, kek_id: str, wrapped: bytes, aad: bytes) -> bytes:
    return open_sealed(ring.key(kek_id), wrapped, b"dek|" + aad)


def rewrap_data_key(ring: KeyRing, kek_id: str, wrapped: bytes, aad: bytes) -> tuple[str, bytes]:
    """Unwrap under the KEK that wrapped it, wrap again under the active KEK. The data key
    itself does not change, so nothing sealed under it needs sealing again."""
    return wrap_data_key(ring, unwrap_data_key(ring, kek_id, wrapped, aad), aad)


class AeadCache:
    """A bounded, thread-safe cache of unwrapped data keys, so the message path does not
    unwrap a key for every message. Entries are dropped when a key is destroyed."""

    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._items: OrderedDict[int, AESGCM] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key_id: int) -> AESGCM | None:
        with self._lock:
            aead = self._items.get(key_id)
            if aead is not None:
                self._items.move_to_end(key_id)
            return aead

    def put(self, key_id: int, dek: bytes) -> AESGCM:
        aead = AESGCM(dek)
        with self._lock:
            self._items[key_id] = aead
            self._items.move_to_end(key_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
        return aead

    def discard(self, key_id: int) -> None:
        with self._lock:
            self._items.pop(key_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


# --- integrity -------------------------------------------------------------------------------


def chain_hash(prev_hash: str, canonical: bytes) -> str:
    """The first audit chain (entries of version 1): SHA-256 over the previous hash and the
    entry's canonical bytes. Anyone can recompute it, so it is kept only to check entries
    written before the keyed chain (``audit_mac``); no new entry uses it."""
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical).hexdigest()


def sign_webhook(secret: str, timestamp: str, body: bytes) -> str:
    """HMAC-SHA256 over ``timestamp.body``, as receivers of signed webhooks expect."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


# --- keyed hashes under the server secret -------------------------------------------------------

RECOVERY_SCHEME = "hmac-sha256"


@functools.lru_cache(maxsize=64)
def _purpose_key(purpose: str, server_secret: str) -> bytes:
    """A key for one purpose only (HKDF-SHA256 over the server secret), so a digest made for
    one use can never be replayed as another's."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=b"chatserver keyed hash|" + purpose.encode(),
    )
    return hkdf.derive(server_secret.encode())


def keyed_digest(purpose: str, value: str, *, server_secret: str) -> str:
    """HMAC-SHA256 of ``value`` under the key for ``purpose``, in hex. Only for values that
    are random and long, or that must not be kept as they are and need no slow hash: the
    key, not the cost, is what stops a guess."""
    key = _purpose_key(purpose, server_secret)
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def recovery_digest(secret_words: str, *, server_secret: str) -> str:
    """What is stored for a recovery phrase's secret words: ``hmac-sha256$<hex>``."""
    digest = keyed_digest("recovery-phrase", secret_words, server_secret=server_secret)
    return f"{RECOVERY_SCHEME}${digest}"


def recovery_lookup_digest(lookup_words: str, *, server_secret: str) -> str:
    """What is stored for a recovery phrase's lookup words (the first three): a keyed hash,
    in hex. The words carry only about 32 bits, so a plain hash would be reversed by trying
    every combination; under the key, the table cannot be read without the server secret."""
    return keyed_digest("recovery-lookup", lookup_words, server_secret=server_secret)


def is_recovery_digest(stored: str) -> bool:
    return stored.startswith(RECOVERY_SCHEME + "$")


def recovery_digest_match(
    stored: str, secret_words: str, *, server_secrets: Sequence[str]
) -> int | None:
    """The index in ``server_secrets`` (the current secret first, then the fallbacks) whose
    key made ``stored`` from these words, or None. Every candidate is computed, so the time
    does not say which secret matched or whether one did."""
    found: int | None = None
    for index, server_secret in enumerate(server_secrets):
        candidate = recovery_digest(secret_words, server_secret=server_secret)
        if hmac.compare_digest(candidate.encode(), stored.encode()) and found is None:
            found = index
    return found


# --- the audit chain's keys -------------------------------------------------------------------


@dataclass(frozen=True)
class AuditKey:
    """The two keys derived from one audit secret: the chain's MAC key and the checkpoint
    signing key. ``key_id`` names them in entries and checkpoints (a digest of the public
    key: it reveals nothing), so a rotated secret's entries still find their key."""

    key_id: str
    mac_key: bytes = field(repr=False)
    signing_key: Ed25519PrivateKey = field(repr=False)

    @property
    def public_key(self) -> bytes:
        return self.signing_key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )


@functools.lru_cache(maxsize=16)
def audit_key(audit_secret: str) -> AuditKey:
    """Derive the audit keys from a configured secret (HKDF, one purpose each), so neither
    is stored anywhere and the MAC key never signs and the signing key never MACs."""
    mac_key = _purpose_key("audit-chain-mac", audit_secret)
    signing_key = Ed25519PrivateKey.from_private_bytes(
        _purpose_key("audit-checkpoint-signing", audit_secret)
    )
    public = signing_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    key_id = hashlib.sha256(b"chatserver audit key|" + public).hexdigest()[:16]
    return AuditKey(key_id=key_id, mac_key=mac_key, signing_key=signing_key)


def audit_mac(key: AuditKey, prev_mac: str, canonical: bytes) -> str:
    """The keyed audit chain: HMAC-SHA256 over the previous entry's MAC and this entry's
    canonical bytes. Without the key, a chain with an entry removed cannot be made to fit."""
    return hmac.new(key.mac_key, prev_mac.encode() + b"\n" + canonical, hashlib.sha256).hexdigest()


def audit_sign(key: AuditKey, payload: bytes) -> str:
    """An Ed25519 signature of a checkpoint, URL-safe base64 without padding (a log line
    carries it through every pipeline unchanged)."""
    return base64.urlsafe_b64encode(key.signing_key.sign(payload)).decode().rstrip("=")


def audit_signature_valid(public_key: bytes, payload: bytes, signature: str) -> bool:
    """Whether ``signature`` (as made by ``audit_sign``) signs ``payload`` under this public
    key; needs neither the secret nor the database."""
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        Ed25519PublicKey.from_public_bytes(public_key).verify(raw, payload)
    except (InvalidSignature, ValueError):
        return False
    return True


# --- signed tokens ------------------------------------------------------------------------------


def sign_token(payload: dict[str, Any], *, purpose: str) -> str:
    """A tamper-proof, timestamped token (Django's signing: HMAC under ``SECRET_KEY``, with
    ``SECRET_KEY_FALLBACKS`` honoured when it is opened). Not encrypted: put nothing secret
    in it."""
    return signing.dumps(payload, salt="chatserver|" + purpose, compress=False)


def open_signed_token(token: str, *, purpose: str, max_age: int) -> dict[str, Any] | None:
    """The payload of a token made by ``sign_token`` for the same purpose and younger than
    ``max_age`` seconds; None if it is forged, altered, expired or malformed."""
    try:
        payload = signing.loads(token, salt="chatserver|" + purpose, max_age=max_age)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    return payload if isinstance(payload, dict) else None


# --- the slow hash's concurrency cap ------------------------------------------------------------


class SlowHashBusy(Exception):
    """Every slot for a slow password hash is taken: answer "busy, try again", not OOM."""


class SlowHashGate:
    """At most ``capacity`` argon2 hashes at once in this process. Each takes about 100 MiB;
    16 at once took a server from 297 MB to 1.77 GB (issue 13, row 3). A caller waits up to
    ``wait`` seconds for a slot, then gets SlowHashBusy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._capacity = 0
        self._semaphore: threading.BoundedSemaphore | None = None

    def _semaphore_for(self, capacity: int) -> threading.BoundedSemaphore:
        with self._lock:
            if self._semaphore is None or capacity != self._capacity:
                # A changed capacity (only in tests) starts a new semaphore; hashes holding
                # the old one finish normally.
                self._semaphore = threading.BoundedSemaphore(capacity)
                self._capacity = capacity
            return self._semaphore

    @contextmanager
    def slot(self, *, capacity: int, wait: float) -> Iterator[None]:
        semaphore = self._semaphore_for(capacity)
        if not semaphore.acquire(timeout=wait):
            raise SlowHashBusy("too many password checks at once")
        try:
            yield
        finally:
            semaphore.release()


SLOW_HASH_GATE = SlowHashGate()
