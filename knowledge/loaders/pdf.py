"""PDF note loader (pypdf): one Document per file, id the file stem, the text of all pages
joined with a blank line. PDFs with no text layer (scans) or a password are reported, not
guessed at: OCR or decrypt them first."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

from pypdf import PdfReader

from ..types import Collection
from .base import LoadLimits, LoadResult, check_file_size, issue
from .records import to_document

PAGE_SEPARATOR = "\n\n"


def load(path: Path, collection: Collection, limits: LoadLimits) -> Iterator[LoadResult]:
    too_big = check_file_size(path, limits)
    if too_big is not None:
        yield too_big
        return
    try:
        reader = PdfReader(path)
        # An owner-password-only PDF opens with the empty user password; anything else we
        # cannot read.
        if reader.is_encrypted and not reader.decrypt(""):
            yield issue(path, None, "PDF is password-protected; save a decrypted copy (e.g. `qpdf --decrypt "
                                    "--password=... in.pdf out.pdf`) and load that")
            return
        pages = [page.extract_text() or "" for page in reader.pages]
    except Exception as exc:  # noqa: BLE001 — pypdf raises many types on damaged files; one bad file must not stop the batch
        yield issue(path, None, f"cannot read PDF ({type(exc).__name__}: {exc}); re-export or repair it "
                                f"(e.g. `qpdf in.pdf out.pdf`)")
        return
    text = PAGE_SEPARATOR.join(pages)
    if not text.strip():
        yield issue(path, None, f"PDF has no extractable text in {len(pages)} page(s) (a scan?); OCR it first, "
                                f"e.g. `ocrmypdf in.pdf out.pdf`")
        return
    record = {"id": path.stem, "text": text, "pages": len(pages)}
    yield to_document(record, collection, source=str(path), line=None, limits=limits)
