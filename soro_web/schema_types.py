"""Field types for every API schema: text the database can store, ids it can hold.

A JSON body may carry what no column accepts: an unpaired surrogate ("\\ud800", which
UTF-8 cannot encode), NUL and other control characters, a million-character name, an id
past 64 bits. Each of those reached the database and answered 500. These types refuse
them with 422 and say so in the OpenAPI schema, so generated clients know the limits.
"""

from __future__ import annotations

import unicodedata
from typing import Annotated, Any

from ninja import Schema
from pydantic import AfterValidator, Field

# PostgreSQL's integer; SQLite's is wider, but an id past this exists in neither.
MAX_ID = 2**31 - 1

# A lesson section's body (Markdown); the builder's textarea says the same.
SECTION_BODY_MAX_CHARS = 20_000

_ALLOWED_CONTROLS = {"\n", "\r", "\t"}


def _storable(value: str, *, multiline: bool) -> str:
    for character in value:
        if "\ud800" <= character <= "\udfff":
            raise ValueError("the text holds an unpaired surrogate (not valid Unicode)")
        if unicodedata.category(character) == "Cc" and not (
            multiline and character in _ALLOWED_CONTROLS
        ):
            raise ValueError(f"control character U+{ord(character):04X} is not allowed")
    return value


# Use as metadata beside the length: ``Annotated[str, Field(max_length=120), OneLine]``.
OneLine = AfterValidator(lambda value: _storable(value, multiline=False))
ManyLines = AfterValidator(lambda value: _storable(value, multiline=True))

Id = Annotated[int, Field(ge=1, le=MAX_ID)]


# --- Error answers -------------------------------------------------------------------------
# Every operation declares the error statuses it really answers, each with this body, so the
# OpenAPI schema (and clients generated from it) match the API. The fuzz test
# (tests/soro_web/test_api_fuzz.py) fails on a status an operation does not declare.


class ErrorOut(Schema):
    """An error: ``detail`` is a message, a list of messages or of validation errors
    (``{"loc": [...], "msg": ..., "type": ...}``), or messages by field name."""

    detail: str | list[Any] | dict[str, Any]


def errors(*codes: int) -> dict[int, Any]:
    """``{code: ErrorOut, ...}`` for an operation's ``response=``; 401 is implied (every
    operation but the token's needs a token or a session), 422 too (ninja validates
    parameters and bodies)."""
    return {code: ErrorOut for code in sorted({401, 422, *codes})}
