"""Keyed pseudonyms for a shareable report: the key, the HMAC, and finding known values in text.

A pseudonym is ``<kind>_<hex>``: the first ``DIGITS`` hex digits (64 bits) of
HMAC-SHA256(key, ``<kind>`` NUL ``<value>``). The kind is part of the message, so one string
pseudonymised as a record id and as a user name gives two unrelated pseudonyms; the same key
gives the same pseudonym on every run and in every file. Without the key a pseudonym cannot be
computed from a guessed value (a plain hash of an IPv4 address or a 6-digit record id could be
reversed by trying them all).

The key is 32 random bytes (``secrets``) kept in a file of its own, hex text, mode 0600, never in
the report folder; the report names it only by its fingerprint.

Free text from the logs (raw lines, user agents, paths, queries, routes) is scrubbed in two
passes (``LEVELS``): tokens between coarse delimiters (white space, ``/ ? &``, quotes, brackets),
then tokens between fine ones (also ``= ; , : @``, a token keeping its trailing ``=`` padding);
a token that is a known value is replaced by its pseudonym. The coarse pass keeps a record id
such as ``b64id==`` whole; the fine pass finds ``500`` in ``id=500``, ``b64id==`` in
``x=b64id==`` and ``203.0.113.9`` in ``203.0.113.9:51234``. ``level_sql`` gives the same
cut for DuckDB (pseudonymise.py). Pseudonyms contain no delimiter and are never known values, so
the passes do not disturb each other.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from forensics.errors import PseudonymError

KINDS: dict[str, str] = {  # prefix -> what it stands for
    "rec": "record id",
    "ip": "IP address (client or forwarded-for)",
    "user": "principal (user name)",
}
DIGITS = 16  # hex digits kept: 64 bits, no collision expected below billions of values
KEY_BYTES = 32
ALGORITHM = f"HMAC-SHA256, first {DIGITS} hex digits ({DIGITS * 4} bits), prefixed by kind"
COARSE = r"""\s/?&"'<>()\[\]{}|\\"""  # regex character-class body: what ends a token
FINE = COARSE + "=;,:@"
# (token pattern, delimiters) per pass; a fine token keeps trailing '=' (base64 padding)
LEVELS = ((f"[^{COARSE}]+", COARSE), (f"[^{FINE}]+=*", FINE))


@dataclass(frozen=True)
class PseudonymKey:
    secret: bytes = field(repr=False)

    @property
    def fingerprint(self) -> str:
        """Names the key in the report without revealing it (domain-separated SHA-256)."""
        return hashlib.sha256(b"forensics pseudonym key\x00" + self.secret).hexdigest()[:16]

    @classmethod
    def generate(cls) -> PseudonymKey:
        return cls(secrets.token_bytes(KEY_BYTES))

    @classmethod
    def read(cls, path: Path) -> PseudonymKey:
        try:
            mode = path.stat().st_mode
            text = path.read_text(encoding="ascii").strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise PseudonymError(f"cannot read the pseudonym key {path}: {exc}") from exc
        if mode & 0o077:
            raise PseudonymError(
                f"the pseudonym key {path} can be read by others (mode {mode & 0o777:o}): chmod 600 it"
            )
        try:
            secret = bytes.fromhex(text)
        except ValueError:
            secret = b""
        if len(secret) < 16:
            raise PseudonymError(f"{path} is not a pseudonym key (expected at least 32 hex digits)")
        return cls(secret)

    def write(self, path: Path) -> None:
        """Write the key as hex to a new file, mode 0600 from its creation (never overwrites)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError as exc:
            raise PseudonymError(f"cannot create the pseudonym key {path}: {exc}") from exc
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(self.secret.hex() + "\n")

    @classmethod
    def load_or_create(cls, path: Path) -> tuple[PseudonymKey, bool]:
        """The key in ``path``, or a new one written there; ``(key, created)``."""
        if path.exists():
            return cls.read(path), False
        key = cls.generate()
        key.write(path)
        return key, True


class Pseudonymiser:
    """``pz(kind, value)`` → ``kind_<hex>``; remembers what it made (for the mapping file)."""

    def __init__(self, key: PseudonymKey) -> None:
        self.key = key
        self._base = {k: hmac.new(key.secret, k.encode() + b"\x00", hashlib.sha256) for k in KINDS}
        self.made: dict[tuple[str, str], str] = {}

    def __call__(self, kind: str, value: str) -> str:
        got = self.made.get((kind, value))
        if got is None:
            got = self.many(kind, [value])[0]
            self.made[(kind, value)] = got
        return got

    def many(self, kind: str, values: Iterable[str]) -> list[str]:
        """Pseudonyms of many values (one HMAC each, the key schedule computed once)."""
        base = self._base[kind]
        out = []
        for v in values:
            h = base.copy()
            h.update(v.encode("utf-8", "surrogateescape"))
            out.append(f"{kind}_{h.hexdigest()[:DIGITS]}")
        return out


def level_sql(token: str, delimiters: str) -> str:
    """RE2 pattern cutting text into tokens and the delimiter runs between them (all of it)."""
    return f"{token}|[{delimiters}]+"


TOKENS = tuple(re.compile(token) for token, _ in LEVELS)
PHRASE = re.compile(f"[{COARSE}]")  # a value with a coarse delimiter inside is a phrase


def candidates(text: str) -> set[str]:
    """Every token of ``text`` at every level: what could be a known value."""
    return {tok for pattern in TOKENS for tok in pattern.findall(text)}


def scrub(text: str, known: Mapping[str, str], phrases: Mapping[str, str] | None = None) -> str:
    """``text`` with every known token replaced by its pseudonym (see LEVELS).

    ``phrases``: known values with a coarse delimiter inside (a principal ``Alice Smith``),
    replaced as substrings first, longest first.
    """
    for value in sorted(phrases or {}, key=len, reverse=True):
        text = text.replace(value, (phrases or {})[value])
    for pattern in TOKENS:
        text = pattern.sub(lambda m: known.get(m.group(), m.group()), text)
    return text
