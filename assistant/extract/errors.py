"""Errors of clinical-note extraction (`assistant/extract/`); each message names the bad value
and the fix, and all subclass `CairnError` so the CLI shows one clean line."""
from __future__ import annotations

from knowledge.errors import CairnError


class ExtractError(CairnError):
    """Base of every extraction error."""


class ExtractSchemaError(ExtractError):
    """A field or item that breaks the extraction schema (bad span, empty text, unknown vital)."""


class SpanMismatchError(ExtractSchemaError):
    """An item whose span does not hold its evidence in the note (`note[start:end] != text`)."""


class ExtractConfigError(ExtractError):
    """An extraction argument that cannot work (unknown mode, an LLM mode without an LLM)."""


class ReplyError(ExtractError):
    """An LLM reply that is not valid JSON of the requested schema (fed back in the repair call)."""


class NoteNotFoundError(ExtractError):
    """A NOTE argument that is neither a readable file, `-`, nor an ingested note id."""
