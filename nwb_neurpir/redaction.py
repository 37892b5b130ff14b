"""URLs without their credentials, for everything that records, prints or reports where data came from.

A presigned URL (S3's ``X-Amz-Signature``, CloudFront's ``Signature``/``Key-Pair-Id``, Google's ``X-Goog-*``, an
Azure SAS ``sig``/``se``/``sp``...) or a URL with ``user:password@`` grants access to whoever reads it. Sidecars are
meant to be shared and reports are published, so only ``redact_url``'s form of a URL is ever written or shown. It is
also a URL's identity (cache key, sidecar owner): one object under a fresh signature is the same source. This module
imports nothing of the package, so every stage may use it.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

__all__ = ["is_signed_url", "redact_text", "redact_url"]

_SECRET_PARAMETERS = frozenset({
    "signature", "expires", "key-pair-id", "policy", "awsaccesskeyid", "googleaccessid",  # S3 v2, CloudFront, GCS v2
    "token", "access_token", "auth", "api_key", "apikey", "key", "password", "secret",
    "sig", "se", "sp", "sv", "sr", "st", "ss", "srt", "spr", "sip", "si", "skoid", "sktid", "skt", "ske", "sks",
    "skv", "sdd",  # Azure shared access signatures
})
_SECRET_PREFIXES = ("x-amz-", "x-goog-")
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_URL_IN_TEXT = re.compile(r"[^\s'\"<>()\[\]{},]*(?:://|\?)[^\s'\"<>()\[\]{},]*")


def _is_secret(parameter: str) -> bool:
    name = unquote(parameter.partition("=")[0]).strip().lower()
    return name in _SECRET_PARAMETERS or name.startswith(_SECRET_PREFIXES)


def redact_url(url: str) -> str:
    """``url`` without ``user:password@`` and without signing or credential query parameters (case-insensitive);
    anything else, a local path too, is returned unchanged."""
    head, hash_mark, fragment = url.partition("#")
    base, question_mark, query = head.partition("?")
    if is_signed_url(url):
        query = "&".join(parameter for parameter in query.split("&") if parameter and not _is_secret(parameter))
        question_mark = "?" if query else ""
    return _USERINFO.sub(r"\1", base) + question_mark + query + hash_mark + fragment


def is_signed_url(url: str) -> bool:
    """True when ``url`` carries signing or credential query parameters (a presigned URL)."""
    query = url.partition("#")[0].partition("?")[2]
    return any(_is_secret(parameter) for parameter in query.split("&") if parameter)


def redact_text(text: str) -> str:
    """``text`` (an error message) with every URL in it redacted by ``redact_url``."""
    return _URL_IN_TEXT.sub(_redacted_token, text)


def _redacted_token(match: re.Match[str]) -> str:
    """A URL found in text, redacted; the punctuation after it (``url: message``) stays."""
    token = match[0]
    url = token.rstrip(".,;:!")
    return redact_url(url) + token[len(url):]
