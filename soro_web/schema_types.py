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
from pydantic import BeforeValidator, Field
from pydantic_core import core_schema

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


class _Storable:
    """Refuses what ``_storable`` refuses, and says so in the JSON schema with a ``pattern``
    (no control characters; tab and line breaks too in multi-line text) so that generated
    clients and the fuzz test know it."""

    def __init__(self, *, multiline: bool) -> None:
        self.multiline = multiline
        # Unicode's control characters (category Cc) are U+0000-U+001F and U+007F-U+009F.
        if multiline:  # less tab (09), line feed (0A) and carriage return (0D)
            self.pattern = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
        else:
            self.pattern = r"^[^\x00-\x1f\x7f-\x9f]*$"

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        multiline = self.multiline
        return core_schema.no_info_after_validator_function(
            lambda value: _storable(value, multiline=multiline), handler(source)
        )

    def __get_pydantic_json_schema__(self, schema: Any, handler: Any) -> dict[str, Any]:
        json_schema: dict[str, Any] = handler(schema)
        json_schema["pattern"] = self.pattern
        return json_schema


# Use as metadata beside the length: ``Annotated[str, Field(max_length=120), OneLine]``.
OneLine = _Storable(multiline=False)
ManyLines = _Storable(multiline=True)


def _a_json_number(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise ValueError("a number is expected")
    return value


# Metadata for every integer of a JSON body, after its bounds: pydantic would read true as 1
# and "7" as 7, which the schema (and generated clients) do not allow.
# ``Annotated[int, Field(ge=0), Number]``. Not for paths and queries: they are text.
Number = BeforeValidator(_a_json_number)

# In paths and queries.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
GradeNumber = Annotated[int, Field(ge=1, le=12)]
# In JSON bodies.
BodyId = Annotated[Id, Number]
BodyGradeNumber = Annotated[GradeNumber, Number]


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
    return dict.fromkeys(sorted({401, 422, *codes}), ErrorOut)
