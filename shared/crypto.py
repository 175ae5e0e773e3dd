"""Encryption at rest: AES-256-GCM under per-tenant data keys wrapped by the master key.

    keyring = Keyring(master_key)
    wrapped = keyring.wrap(tenant_id, new_data_key())          # stored in tenants
    cipher = TenantCipher(tenant_id, keyring.unwrap(tenant_id, wrapped, key_id))
    blob = cipher.encrypt("my order never came")               # stored in messages
    cipher.decrypt(blob)

A ciphertext is ``version (1 byte) | data-key id (8) | nonce (12) | ciphertext + tag``;
its associated data binds it to the tenant, so a blob copied to another tenant's row does
not decrypt. Rotating the master key rewraps the tenant keys only: data is untouched.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterable
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = b"\x01"
_NONCE = 12
_KEY_ID = 8


class DecryptionError(Exception):
    """A ciphertext is corrupt, belongs elsewhere, or needs a key we do not have."""


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)


def master_key_id(key: bytes) -> str:
    """A short public name for a master key, stored beside everything it wraps."""
    return hmac.new(key, b"parley master key id", hashlib.sha256).hexdigest()[:16]


class Keyring:
    """The current master key, plus previous ones still accepted for unwrapping."""

    def __init__(self, current: bytes, previous: Iterable[bytes] = ()) -> None:
        self.current = current
        self.current_id = master_key_id(current)
        self._raw = {master_key_id(k): k for k in (*previous, current)}
        self._keys = {kid: AESGCM(k) for kid, k in self._raw.items()}

    def all_keys(self) -> list[bytes]:
        return list(self._raw.values())

    def derive(self, purpose: bytes, key_id: str | None = None) -> bytes:
        """A 256-bit key for ``purpose`` from the master key ``key_id`` (default: the
        current one), by HKDF-SHA256; KeyError when that master key is not configured."""
        master = self._raw[key_id or self.current_id]
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(master)

    def wrap(self, tenant_id: UUID, data_key: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        sealed = self._keys[self.current_id].encrypt(nonce, data_key, _wrap_aad(tenant_id))
        return nonce + sealed

    def unwrap(self, tenant_id: UUID, wrapped: bytes, key_id: str) -> bytes:
        aead = self._keys.get(key_id)
        if aead is None:
            raise DecryptionError(f"tenant key is wrapped by master key {key_id}, not configured")
        try:
            return aead.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], _wrap_aad(tenant_id))
        except InvalidTag:
            raise DecryptionError("tenant key does not unwrap under the master key") from None


def _wrap_aad(tenant_id: UUID) -> bytes:
    return b"parley tenant key:" + tenant_id.bytes


class TenantCipher:
    """Encrypts and decrypts one tenant's personal data."""

    def __init__(self, tenant_id: UUID, data_key: bytes) -> None:
        self.tenant_id = tenant_id
        self.key_id = hashlib.sha256(b"parley data key id" + data_key).digest()[:_KEY_ID]
        self._aead = AESGCM(data_key)
        self._aad = b"parley data:" + tenant_id.bytes
        self._mac_key = hmac.new(data_key, b"parley mac key", hashlib.sha256).digest()

    def mac(self, message: str) -> bytes:
        """A keyed hash under the tenant's data key (stable across master-key rotations)."""
        return hmac.new(self._mac_key, message.encode("utf-8"), hashlib.sha256).digest()

    def seal(self, data: bytes) -> bytes:
        """Encrypt bytes (archives); same format as :meth:`encrypt`."""
        nonce = os.urandom(_NONCE)
        return _VERSION + self.key_id + nonce + self._aead.encrypt(nonce, data, self._aad)

    def unseal(self, blob: bytes) -> bytes:
        blob = bytes(blob)
        header = 1 + _KEY_ID + _NONCE
        if len(blob) < header + 16 or blob[:1] != _VERSION:
            raise DecryptionError("not a Parley ciphertext")
        if blob[1 : 1 + _KEY_ID] != self.key_id:
            raise DecryptionError("ciphertext was made with another data key")
        try:
            return self._aead.decrypt(blob[1 + _KEY_ID : header], blob[header:], self._aad)
        except InvalidTag:
            raise DecryptionError("ciphertext is corrupt or belongs to another tenant") from None

    def encrypt(self, plaintext: str) -> bytes:
        return self.seal(plaintext.encode("utf-8"))

    def decrypt(self, blob: bytes) -> str:
        return self.unseal(blob).decode("utf-8")

    def try_decrypt(self, blob: bytes | None) -> str | None:
        """The text, or None when there is none or it cannot be read (a corrupt row, a
        shredded key): for readers that show what they can."""
        if blob is None:
            return None
        try:
            return self.decrypt(blob)
        except DecryptionError:
            return None
