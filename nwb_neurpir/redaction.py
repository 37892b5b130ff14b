"""URLs without their credentials, for everything that records, prints or reports where data came from.

A presigned URL (S3's ``X-Amz-Signature``, CloudFront's ``Signature``/``Key-Pair-Id``, Google's ``X-Goog-*``, an
Azure SAS ``sig``...), a URL with an access token, API key, session id or password in its query or fragment, or a URL
with ``user:password@`` grants access to whoever reads it. Sidecars are meant to be shared and reports are published,
so only ``redact_url``'s form of a URL is ever written or shown. It is also a URL's identity (cache key, sidecar
owner): one object under a fresh signature is the same source. This module imports nothing of the package, so every
stage may use it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["is_signed_url", "redact_text", "redact_url"]

_SECRET_WORDS = ("token", "auth", "key", "secret", "sig", "pass", "pwd", "credential", "session", "jwt", "ticket",
                 "bearer")
"""A query parameter whose normalised name contains one of these (or is ``code``, an OAuth code) is a credential."""
_SIGNATURE_PARTS = frozenset({
    "expires", "policy", "googleaccessid",  # CloudFront, GCS v2
    "se", "sp", "sv", "sr", "st", "ss", "srt", "spr", "sip", "si", "skoid", "sktid", "skt", "ske", "sks", "skv",
    "sdd",  # Azure shared access signatures
})
"""Parameters that are no credential themselves but part of a signature: dropped from a URL that carries one, so
that the same object under a fresh signature is one source."""
_SIGNATURE_PREFIXES = ("x_amz_", "x_goog_")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_URL_IN_TEXT = re.compile(r"[^\s'\"<>()\[\]{},]*(?:://|\?)[^\s'\"<>()\[\]{},]*")


def _name(parameter: str) -> str:
    """A query parameter's name, normalised: decoded, lower case, ``-`` as ``_``."""
    return unquote(parameter.partition("=")[0]).strip().lower().replace("-", "_")


def _is_secret(name: str) -> bool:
    return name == "code" or any(word in name for word in _SECRET_WORDS)


def _is_signature_part(name: str) -> bool:
    return _is_secret(name) or name in _SIGNATURE_PARTS or name.startswith(_SIGNATURE_PREFIXES)


def redact_url(url: str) -> str:
    """``url`` without ``user:password@``, without credential query parameters (a name, in any case, that contains
    token, auth, key, secret, sig, pass, pwd, credential, session, jwt, ticket or bearer, or is code) and the rest of
    a signature they belong to, and without a fragment holding ``name=value`` pairs (``#access_token=...``); anything
    else, a local path too, is returned unchanged."""
    head, hash_mark, fragment = url.partition("#")
    if "=" in fragment:
        hash_mark = fragment = ""
    base, question_mark, query = head.partition("?")
    if is_signed_url(head):
        query = "&".join(parameter for parameter in query.split("&")
                         if parameter and not _is_signature_part(_name(parameter)))
        question_mark = "?" if query else ""
    return _USERINFO.sub(r"\1", base) + question_mark + query + hash_mark + fragment


def is_signed_url(url: str) -> bool:
    """True when ``url`` carries credential query parameters (a presigned URL, an access token...)."""
    query = url.partition("#")[0].partition("?")[2]
    return any(_is_secret(_name(parameter)) for parameter in query.split("&") if parameter)


def redact_text(text: str) -> str:
    """``text`` (an error message) with every URL in it redacted by ``redact_url``."""
    return _URL_IN_TEXT.sub(_redacted_token, text)


def _redacted_token(match: re.Match[str]) -> str:
    """A URL found in text, redacted; the punctuation after it (``url: message``) stays."""
    token = match[0]
    url = token.rstrip(".,;:!")
    return redact_url(url) + token[len(url):]
