"""Exceptions of the knowledge base. Each message names the bad value and the fix; the CLI
turns them into a one-line error instead of a traceback."""
from __future__ import annotations


class CairnError(Exception):
    """Base of every user-facing error in cairn (all packages subclass it); the CLI and the
    UI catch this one type at the edge and show its message."""


class KnowledgeError(CairnError):
    """A problem with knowledge-base input, configuration or state."""


class BadInputError(KnowledgeError):
    """A file or record that cannot be used (the caller reports it and moves on)."""


class FilterError(KnowledgeError):
    """A `--filter` expression that does not parse or names an unknown field."""


class ModelNotFoundError(KnowledgeError):
    """A model name, path or hub id that cannot be resolved offline."""


class IndexStateError(KnowledgeError):
    """The on-disk index is missing or disagrees with its manifest."""
