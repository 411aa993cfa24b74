"""Loaders: every format with good and bad input, record validation, directory expansion,
duplicate ids, limits, and a 50 MB JSONL streamed in constant memory."""
from __future__ import annotations

import json
import tracemalloc
from pathlib import Path

import pytest
from pypdf import PdfWriter

from knowledge.errors import KnowledgeError
from knowledge.loaders import SUPPORTED_EXTENSIONS, LoadLimits, extensions_for, iter_documents
from knowledge.loaders.records import to_document
from knowledge.types import Document, IngestIssue

ARRIVAL = {"id": "c1", "title": "Arrival", "type": " Film ", "description": "A linguist decodes a language.",
           "genres": ["Drama", " Sci-Fi"], "year": 2016}


def load(paths, collection="catalog", **limits):
    items = list(iter_documents(paths if isinstance(paths, list) else [paths], collection,
                                limits=LoadLimits(**limits)))
    docs = [x for x in items if isinstance(x, Document)]
    issues = [x for x in items if isinstance(x, IngestIssue)]
    assert len(docs) + len(issues) == len(items)
    return docs, issues


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def record(**changes):
    rec = {**ARRIVAL, **changes}
    return {k: v for k, v in rec.items() if v is not ...}  # `...` deletes a field


# --- limits and records -----------------------------------------------------------------

@pytest.mark.parametrize("kwargs", [{"max_doc_chars": 0}, {"max_doc_chars": 1.5}, {"max_doc_chars": True},
                                    {"max_file_mb": 0}, {"max_file_mb": -1}, {"max_file_mb": "64"}])
def test_load_limits_reject_bad_values(kwargs):
    with pytest.raises(KnowledgeError, match=next(iter(kwargs))):
        LoadLimits(**kwargs)


def test_catalog_record_becomes_header_line_plus_description():
    doc = to_document({**ARRIVAL, "id": 7, "extra": {"k": 1}, "released": "2016-11-11", "cast": "Amy Adams| Jeremy Renner",
                       "duration_min": "116", "rating": "7.9", "language": "en", "creators": None},
                      "catalog", source="s.jsonl", line=3, limits=LoadLimits())
    assert isinstance(doc, Document)
    assert doc.id == "7" and doc.source == "s.jsonl" and doc.line == 3
    assert doc.text == "Arrival (film, 2016; drama, sci-fi)\nA linguist decodes a language."
    assert doc.metadata == {"title": "Arrival", "type": "film", "genres": ["drama", "sci-fi"], "year": 2016,
                            "released": "2016-11-11", "cast": ["Amy Adams", "Jeremy Renner"], "duration_min": 116,
                            "rating": 7.9, "language": "en", "extra": {"k": 1}}


@pytest.mark.parametrize("changes, reason", [
    ({"year": ...}, "missing required field 'year' (catalog items need id, title, type, description, genres, year)"),
    ({"title": ""}, "required field 'title' is empty"),
    ({"title": None}, "required field 'title' is empty"),
    ({"description": "   "}, "required field 'description' is blank"),
    ({"genres": []}, "'genres' has no genres"),
    ({"genres": 42}, "field 'genres' must be a list of strings or a '|'-joined string, got int 42"),
    ({"genres": ["ok", 3]}, "field 'genres' must hold only strings, got 3"),
    ({"year": "nineteen"}, "field 'year' must be a 4-digit year like 1999, got 'nineteen'"),
    ({"year": 99}, "field 'year' must be a 4-digit year like 1999, got 99"),
    ({"year": True}, "field 'year' must be a 4-digit year"),
    ({"id": True}, "field 'id' must be a string or an integer, got bool True"),
    ({"id": "  "}, "field 'id' is blank"),
    ({"title": ["a"]}, "field 'title' must be a string, got list"),
    ({"released": "11/11/2016"}, "field 'released' must be an ISO date like 2024-03-01, got '11/11/2016'"),
    ({"duration_min": "-5"}, "field 'duration_min' must be a positive integer, got -5"),
    ({"rating": "great"}, "field 'rating' must be a number like 7.5, got str 'great'"),
])
def test_catalog_record_problems_name_field_and_fix(changes, reason):
    result = to_document(record(**changes), "catalog", source="s", line=1, limits=LoadLimits())
    assert isinstance(result, IngestIssue), result
    assert reason in result.reason and result.line == 1


def test_record_coercions():
    doc = to_document(record(year="1999", genres="Drama|  |Comedy|drama"), "catalog", source="s", line=1,
                      limits=LoadLimits())
    assert doc.metadata["year"] == 1999 and doc.metadata["genres"] == ["drama", "comedy"]
    assert to_document(record(year=1999.0), "catalog", source="s", line=1, limits=LoadLimits()).metadata["year"] == 1999


def test_near_miss_field_name_is_pointed_out():
    rec = record(title=...)
    rec["Title"] = "Arrival"
    issue = to_document(rec, "catalog", source="s", line=1, limits=LoadLimits())
    assert "found 'Title'" in issue.reason


def test_non_object_record_is_an_issue():
    issue = to_document(["a", "b"], "catalog", source="s", line=2, limits=LoadLimits())
    assert isinstance(issue, IngestIssue) and "got list" in issue.reason


def test_note_record_keeps_text_verbatim_and_validates_fields():
    text = "  HPI:  cough\r\n\n\tfever  \n"
    doc = to_document({"id": "n1", "text": text, "patient_id": 12, "date": "2024-03-01", "author": "Dr. Lee",
                       "note_type": "progress", "ward": "3B"}, "notes", source="s", line=1, limits=LoadLimits())
    assert doc.text == text
    assert doc.metadata == {"patient_id": "12", "date": "2024-03-01", "author": "Dr. Lee", "note_type": "progress",
                            "ward": "3B"}
    bad_date = to_document({"id": "n2", "text": "x", "date": "March 1"}, "notes", source="s", line=1, limits=LoadLimits())
    assert "field 'date' must be an ISO date" in bad_date.reason
    no_text = to_document({"id": "n3"}, "notes", source="s", line=1, limits=LoadLimits())
    assert no_text.reason == "missing required field 'text' (notes need id, text)"


def test_record_over_max_doc_chars_is_skipped():
    issue = to_document({"id": "big", "text": "x" * 101}, "notes", source="s", line=1, limits=LoadLimits(max_doc_chars=100))
    assert isinstance(issue, IngestIssue) and "101 characters, over max_doc_chars=100" in issue.reason


# --- JSONL ------------------------------------------------------------------------------

def test_jsonl_good_and_bad_lines_continue(tmp_path):
    path = tmp_path / "cat.jsonl"
    path.write_bytes(b"\n".join([
        json.dumps(record(id="a")).encode(),
        b'{"id": "b", "title": ',                                  # 2: malformed
        b'["not", "an", "object"]',                                 # 3
        json.dumps(record(id="c", year=...)).encode(),              # 4: missing year
        b"",                                                        # 5: blank, ignored
        json.dumps(record(id="d", title="Caf\u00e9")).encode().replace(b"Caf\\u00e9", b"Caf\xe9"),  # 6: latin-1
        json.dumps(record(id="e", title="Caf\u00e9"), ensure_ascii=False).encode(),                 # 7: fine
    ]) + b"\n")
    docs, issues = load(path)
    assert [d.id for d in docs] == ["a", "e"]
    assert [(d.source, d.line) for d in docs] == [(str(path), 1), (str(path), 7)]
    assert docs[1].metadata["title"] == "Café"
    assert [i.line for i in issues] == [2, 3, 4, 6]
    assert "invalid JSON" in issues[0].reason
    assert "got list" in issues[1].reason
    assert "missing required field 'year'" in issues[2].reason
    assert "not valid UTF-8 at byte" in issues[3].reason and "\\xe9" in issues[3].reason


@pytest.mark.parametrize("content", [b"", b"\n  \n"])
def test_empty_jsonl_is_an_issue(tmp_path, content):
    (tmp_path / "e.jsonl").write_bytes(content)
    docs, issues = load(tmp_path / "e.jsonl")
    assert not docs and len(issues) == 1 and "file is empty" in issues[0].reason


def test_duplicate_ids_across_files_keep_the_first(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [record(id="x"), record(id="y")])
    write_jsonl(tmp_path / "b.jsonl", [record(id="x", title="Other")])
    docs, issues = load(tmp_path)
    assert [d.id for d in docs] == ["x", "y"] and docs[0].metadata["title"] == "Arrival"
    assert len(issues) == 1 and issues[0].source == str(tmp_path / "b.jsonl") and issues[0].line == 1
    assert f"duplicate id 'x' (first seen at {tmp_path / 'a.jsonl'}:1)" in issues[0].reason


def test_notes_jsonl(tmp_path):
    write_jsonl(tmp_path / "n.jsonl", [{"id": "n1", "text": "HPI: cough.\n  BP: 120/80 ", "date": "2024-03-01"}])
    (doc,), issues = load(tmp_path / "n.jsonl", "notes")
    assert not issues and doc.text == "HPI: cough.\n  BP: 120/80 " and doc.metadata == {"date": "2024-03-01"}


def test_50mb_jsonl_streams_in_constant_memory(tmp_path):
    path = tmp_path / "big.jsonl"
    description = "A long description of a film about rivers and the people who live by them. " * 64  # ~4.9 kB
    with path.open("w", encoding="utf-8") as out:
        for i in range(11_000):
            out.write(json.dumps(record(id=f"item-{i}", description=description)) + "\n")
    size = path.stat().st_size
    assert size > 50 * 2**20
    tracemalloc.start()
    try:
        count = issues = 0
        for item in iter_documents([path], "catalog"):  # nothing kept: only the loader's own memory counts
            count += isinstance(item, Document)
            issues += isinstance(item, IngestIssue)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, issues) == (11_000, 0)
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MB while streaming a {size / 2**20:.0f} MB file"


def sparse_long_line(path: Path, before: bytes, after: bytes, size: int = 64 * 2**20) -> None:
    """`before`, then a line of `size` NUL bytes (a hole: no disk used), then `after`."""
    with path.open("wb") as out:
        out.write(before)
        out.seek(size, 1)
        out.write(b"\n" + after)


def test_an_over_long_jsonl_line_is_skipped_without_being_read_whole(tmp_path):
    path = tmp_path / "cat.jsonl"
    sparse_long_line(path, (json.dumps(record(id="a")) + "\n").encode(),
                     (json.dumps(record(id="c")) + "\n").encode())
    tracemalloc.start()
    try:
        docs, issues = load(path, max_line_mb=1)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert [(d.id, d.line) for d in docs] == [("a", 1), ("c", 3)]
    (issue,) = issues
    assert issue.line == 2 and "67,108,865 bytes, over the 1,048,576-byte line limit" in issue.reason
    assert "raise LoadLimits.max_line_mb" in issue.reason
    # Reading it whole would take 64 MB (and as much again decoded); pieces of 1 MB stay far below.
    assert peak < 8 * 2**20, f"peak {peak / 2**20:.1f} MB while skipping a 64 MB line"


def test_an_over_long_csv_line_is_one_skipped_row(tmp_path):
    path = tmp_path / "cat.csv"
    sparse_long_line(path, (CSV_HEADER + "1,A,film,d,drama,2001,\n").encode(), b"3,C,film,d,drama,2003,\n",
                     size=2 * 2**20)
    docs, issues = load(path, max_line_mb=1)
    assert [(d.id, d.line) for d in docs] == [("1", 2), ("3", 4)]
    assert [i.line for i in issues] == [3] and "line limit" in issues[0].reason


@pytest.mark.parametrize("value", [0, -1, "16", True])
def test_max_line_mb_is_validated(value):
    with pytest.raises(KnowledgeError, match=f"LoadLimits.max_line_mb must be a positive number of megabytes, "
                                             f"got {value!r}"):
        LoadLimits(max_line_mb=value)


# --- JSON array -------------------------------------------------------------------------

def test_json_array_records_know_their_line(tmp_path):
    path = tmp_path / "cat.json"
    path.write_text("[\n" + ",\n".join(json.dumps(record(id=str(i)), indent=1) for i in range(3)) + "\n]\n")
    docs, issues = load(path)
    assert not issues and [d.id for d in docs] == ["0", "1", "2"]
    per_record = len(json.dumps(record(), indent=1).splitlines())
    assert [d.line for d in docs] == [2, 2 + per_record, 2 + 2 * per_record]


def test_json_array_bad_element_and_malformed_tail(tmp_path):
    path = tmp_path / "cat.json"
    path.write_text('[\n' + json.dumps(record(id="a")) + ',\n{"id": "b"},\n' + json.dumps(record(id="c")) + ',\n{"id": oops}\n]')
    docs, issues = load(path)
    assert [d.id for d in docs] == ["a", "c"]
    assert [i.line for i in issues] == [3, 5]
    assert "missing required field 'title'" in issues[0].reason
    assert "invalid JSON" in issues[1].reason and "after 3 record(s)" in issues[1].reason


@pytest.mark.parametrize("content, reason", [
    ('{"id": "a"}', "expected a JSON array of records at the top level, got an object"),
    ("[]", "the array is empty"),
    ("", "file is empty"),
    ("[" + json.dumps(ARRIVAL) + "] trailing", "unexpected content after the closing ']'"),
    ("[" + json.dumps(ARRIVAL) + " " + json.dumps(ARRIVAL) + "]", "expected ',' or ']'"),
])
def test_json_array_file_problems(tmp_path, content, reason):
    (tmp_path / "x.json").write_text(content)
    _, issues = load(tmp_path / "x.json")
    assert len(issues) == 1 and reason in issues[0].reason


def test_whole_file_formats_report_first_invalid_byte_and_size(tmp_path):
    path = tmp_path / "x.json"
    path.write_bytes(b'[\n{"id": "a",\n "title": "Caf\xe9"}]')
    (issue,) = load(path)[1]
    assert issue.line == 3 and "not valid UTF-8 at byte 28" in issue.reason
    path.write_text("[" + json.dumps(ARRIVAL) + "]")
    (issue,) = load(path, max_file_mb=0.0001)[1]
    assert "over max_file_mb=0.0001" in issue.reason and ".jsonl" in issue.reason


# --- CSV --------------------------------------------------------------------------------

CSV_HEADER = "id,title,type,description,genres,year,cast\n"


def test_csv_quoted_commas_and_newlines_keep_starting_line(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_text("\ufeff" + CSV_HEADER
                    + '1,Her,Film,"A man, a voice,\nand love",Romance|Drama,2013,Joaquin Phoenix|Scarlett Johansson\n'
                    + '\n'
                    + '2,"Say ""hi""",series,"Line one\n\nline three",comedy,1999,\n', encoding="utf-8")
    docs, issues = load(path)
    assert not issues
    assert [(d.id, d.line) for d in docs] == [("1", 2), ("2", 5)]
    assert docs[0].text == "Her (film, 2013; romance, drama)\nA man, a voice,\nand love"
    assert docs[0].metadata["cast"] == ["Joaquin Phoenix", "Scarlett Johansson"]
    assert docs[1].metadata["title"] == 'Say "hi"' and "cast" not in docs[1].metadata


def test_csv_bad_rows_do_not_stop_the_file(tmp_path):
    path = tmp_path / "cat.csv"
    path.write_bytes((CSV_HEADER
                      + "1,A,film,d,drama,abc,\n"             # 2: bad year
                      + "2,B,film,d,drama,2001,x,extra\n"     # 3: too many fields
                      + "3,C,film,d\n"                        # 4: short row
                      ).encode() + b'4,Caf\xe9,film,"multi\nline",drama,2001,\n'  # 5-6: latin-1
                     + b'5,"bad"quote,film,d,drama,2001,\n'   # 7: malformed quoting
                     + b"6,F,film,d,drama,2001,\n")           # 8: fine
    docs, issues = load(path)
    assert [(d.id, d.line) for d in docs] == [("6", 8)]
    assert [i.line for i in issues] == [2, 3, 4, 5, 7]
    reasons = [i.reason for i in issues]
    assert "field 'year' must be a 4-digit year like 1999, got 'abc'" in reasons[0]
    assert "row has 8 fields but the header has 7" in reasons[1]
    assert "missing required field 'genres'" in reasons[2]
    assert "not valid UTF-8" in reasons[3]
    assert "malformed CSV" in reasons[4]


@pytest.mark.parametrize("content, reason", [
    ("", "file is empty"),
    (CSV_HEADER, "has a header but no records"),
    ("id,,title\n1,2,3\n", "header column 2 has no name"),
    ("id,title,id\n1,2,3\n", "names column 'id' twice"),
    (CSV_HEADER + '1,A,film,"never closed,drama,2001,\n', "malformed CSV"),
])
def test_csv_file_problems(tmp_path, content, reason):
    (tmp_path / "x.csv").write_text(content)
    _, issues = load(tmp_path / "x.csv")
    assert len(issues) == 1 and reason in issues[0].reason, issues


def test_csv_notes(tmp_path):
    (tmp_path / "n.csv").write_text('id,text,patient_id\nn1,"HPI: cough.\n  PLAN: rest.",p7\n')
    (doc,), issues = load(tmp_path / "n.csv", "notes")
    assert not issues and doc.text == "HPI: cough.\n  PLAN: rest." and doc.metadata == {"patient_id": "p7"}


# --- text and PDF notes -----------------------------------------------------------------

def test_text_and_markdown_notes_are_verbatim(tmp_path):
    (tmp_path / "note_01.txt").write_bytes(b"HPI:  cough\r\n\r\nPLAN: rest.  \n")
    (tmp_path / "note_02.md").write_text("# Visit\n\nA/P: CAP.\n")
    docs, issues = load(tmp_path, "notes")
    assert not issues
    assert [(d.id, d.text, d.line) for d in docs] == [("note_01", "HPI:  cough\r\n\r\nPLAN: rest.  \n", None),
                                                     ("note_02", "# Visit\n\nA/P: CAP.\n", None)]


def test_text_note_problems(tmp_path):
    (tmp_path / "a.txt").write_bytes(b"line one\nline two caf\xe9\n")
    (tmp_path / "b.txt").write_text("  \n")
    (tmp_path / "c.md").write_text("x" * 2000)
    _, issues = load(tmp_path, "notes", max_file_mb=0.001)
    assert [(i.source, i.line) for i in issues] == [(str(tmp_path / "a.txt"), 2), (str(tmp_path / "b.txt"), None),
                                                    (str(tmp_path / "c.md"), None)]
    assert "not valid UTF-8 at byte 21" in issues[0].reason
    assert "file is empty" in issues[1].reason
    assert "over max_file_mb" in issues[2].reason


def make_pdf(pages: list[str]) -> bytes:
    """A minimal valid PDF (Helvetica text, one content stream a page), offsets computed."""
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>",
               b"<< /Type /Pages /Kids [" + b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(len(pages)))
               + b"] /Count %d >>" % len(pages),
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    for i, text in enumerate(pages):
        shows = b" ".join(b"(" + line.encode("latin-1") + b") '" for line in text.split("\n"))
        ops = b"BT /F1 12 Tf 72 720 Td 14 TL " + shows + b" ET"
        objects.append(b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 3 0 R >> >> "
                       b"/Contents %d 0 R >>" % (5 + 2 * i))
        objects.append(b"<< /Length %d >>\nstream\n" % len(ops) + ops + b"\nendstream")
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1) + b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_pdf_pages_are_joined_with_a_blank_line(tmp_path):
    (tmp_path / "visit.pdf").write_bytes(make_pdf(["HPI: cough for 3 days.\nPLAN: rest.", "Page two."]))
    (doc,), issues = load(tmp_path / "visit.pdf", "notes")
    assert not issues
    assert doc.id == "visit" and doc.text == "HPI: cough for 3 days.\nPLAN: rest.\n\nPage two."
    assert doc.metadata == {"pages": 2}


def test_pdf_problems(tmp_path):
    (tmp_path / "plain.pdf").write_bytes(make_pdf(["Secret note."]))
    writer = PdfWriter(clone_from=tmp_path / "plain.pdf")
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    writer.write(tmp_path / "a_locked.pdf")
    (tmp_path / "b_broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    (tmp_path / "c_blank.pdf").write_bytes(make_pdf([""]))
    docs, issues = load([tmp_path / "a_locked.pdf", tmp_path / "b_broken.pdf", tmp_path / "c_blank.pdf"], "notes")
    assert not docs
    assert "password-protected" in issues[0].reason
    assert "cannot read PDF" in issues[1].reason
    assert "no extractable text" in issues[2].reason


def test_owner_password_only_pdf_is_readable(tmp_path):
    (tmp_path / "plain.pdf").write_bytes(make_pdf(["Open note."]))
    writer = PdfWriter(clone_from=tmp_path / "plain.pdf")
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    writer.write(tmp_path / "open.pdf")
    (doc,), issues = load(tmp_path / "open.pdf", "notes")
    assert not issues and doc.text == "Open note."


# --- paths and dispatch -----------------------------------------------------------------

def test_directories_expand_sorted_recursively_skipping_hidden_and_other_types(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / ".git").mkdir()
    write_jsonl(tmp_path / "b" / "2.jsonl", [record(id="b2")])
    write_jsonl(tmp_path / "b" / "1.JSONL", [record(id="b1")])
    write_jsonl(tmp_path / "a.jsonl", [record(id="a")])
    write_jsonl(tmp_path / ".hidden.jsonl", [record(id="hidden")])
    write_jsonl(tmp_path / ".git" / "x.jsonl", [record(id="git")])
    (tmp_path / "README.md").write_text("not a catalog item")
    (tmp_path / "notes.xlsx").write_bytes(b"PK")
    docs, issues = load(tmp_path)
    assert not issues and [d.id for d in docs] == ["a", "b1", "b2"]


def test_path_problems_are_issues_and_the_batch_goes_on(tmp_path):
    good = write_jsonl(tmp_path / "good.jsonl", [record(id="g")])
    (tmp_path / "sheet.xlsx").write_bytes(b"PK")
    (tmp_path / "note.md").write_text("HPI: x")
    (tmp_path / "empty").mkdir()
    docs, issues = load([tmp_path / "missing.jsonl", tmp_path / "sheet.xlsx", tmp_path / "note.md",
                         tmp_path / "empty", good])
    assert [d.id for d in docs] == ["g"]
    reasons = [i.reason for i in issues]
    assert "path does not exist" in reasons[0]
    assert "unsupported file type ('.xlsx'); catalog can be loaded from .csv, .json or .jsonl" in reasons[1]
    assert ".md files can only be loaded as notes" in reasons[2]
    assert "no .csv, .json or .jsonl files in this directory" in reasons[3]


def test_iter_documents_accepts_one_path_and_rejects_unknown_collection(tmp_path):
    path = write_jsonl(tmp_path / "a.jsonl", [record(id="a")])
    assert [d.id for d in iter_documents(str(path), "catalog")] == ["a"]
    with pytest.raises(KnowledgeError, match="unknown collection 'movies'"):
        iter_documents([path], "movies")  # raised at the call, not at the first next()


def test_supported_extensions():
    assert SUPPORTED_EXTENSIONS == {".jsonl", ".json", ".csv", ".txt", ".md", ".pdf"}
    assert extensions_for("catalog") == (".csv", ".json", ".jsonl")
    assert set(extensions_for("notes")) == SUPPORTED_EXTENSIONS
