"""Hostile files, built small: real workbook parts plus a bomb part written as repeated deflate blocks.

A deflate block ended by a full flush does not refer back past itself, so one
compressed megabyte of a repeated pattern, written `k` times, unpacks to `k`
megabytes: a 2.2 GB part costs 2 MB of file and no compression time. CRCs of
the bomb parts are not computed (0): every reader Linewise uses would meet
them only after unpacking the whole part, and the guard stops long before.
"""
from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import xlsxwriter

MB = 2**20
HEADER = ["invoice_no", "customer_id", "invoice_date", "amount"]


def invoices_workbook(rows: int = 20, extra=None, prefix: str = "INV") -> bytes:
    """A normal invoices workbook (invoice numbers `prefix`-0000 …); `extra(worksheet)` may add cells."""
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"strings_to_numbers": False})
    ws = wb.add_worksheet("Invoices")
    ws.write_row(0, 0, HEADER)
    for i in range(rows):
        ws.write_row(i + 1, 0, [f"{prefix}-{i:04d}", "C1", "2026-01-05", 100 + i])
    if extra is not None:
        extra(ws)
    wb.close()
    return buf.getvalue()


def xfd_cell() -> bytes:
    """The invoice cells plus one cell at XFD1048576 (3-6 KB; readers ask for 512 GB)."""
    return invoices_workbook(extra=lambda ws: ws.write(1_048_575, 16_383, "x"))


def last_row_cell() -> bytes:
    """The invoice cells plus one cell at A1048576: a legal sheet of 1,048,576 rows × 4 columns."""
    return invoices_workbook(extra=lambda ws: ws.write(1_048_575, 0, "x"))


def repeated_deflate(pattern: bytes, total: int) -> tuple[bytes, int]:
    """(raw deflate data, unpacked size) for `pattern` repeated to about `total` bytes."""
    block = pattern * max(1, MB // len(pattern))
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    one = comp.compress(block) + comp.flush(zlib.Z_FULL_FLUSH)
    k = max(1, total // len(block))
    return one * k + comp.flush(zlib.Z_FINISH), k * len(block)


def with_part(base: bytes, part: str, head: bytes, pattern: bytes, total: int, tail: bytes,
              declared: int | None = None) -> bytes:
    """`base` (a workbook) with `part` replaced by head + pattern*N + tail (~`total` bytes unpacked).

    `declared` is the uncompressed size written in the archive (default: the true one).
    """
    body, size = repeated_deflate(pattern, total)
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = comp.compress(head) + comp.flush(zlib.Z_FULL_FLUSH) + body[:-2]  # drop body's final block
    data += comp.compress(tail) + comp.flush(zlib.Z_FINISH)
    size += len(head) + len(tail)
    out = io.BytesIO()
    src = zipfile.ZipFile(io.BytesIO(base))
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for info in src.infolist():
            if info.filename != part:
                zf.writestr(info.filename, src.read(info.filename))
        _raw_member(zf, part, data, declared if declared is not None else size)
    return out.getvalue()


def _raw_member(zf: zipfile.ZipFile, name: str, deflated: bytes, size: int) -> None:
    """Append a member whose deflate data is given as is (zipfile has no public way to do this)."""
    zi = zipfile.ZipInfo(name, date_time=(2026, 1, 5, 0, 0, 0))
    zi.compress_type = zipfile.ZIP_DEFLATED
    zi.file_size, zi.compress_size, zi.CRC = size, len(deflated), 0
    zi.header_offset = zf.fp.tell()
    zf.fp.write(zi.FileHeader(zip64=size > 0xFFFFFFFF))
    zf.fp.write(deflated)
    zf.filelist.append(zi)
    zf.NameToInfo[name] = zi
    zf.start_dir = zf.fp.tell()


SHEET = "xl/worksheets/sheet1.xml"
SST = "xl/sharedStrings.xml"
_NS = b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
_SST_NS = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def rows_without_r(rows: int) -> bytes:
    """A sheet of `rows` rows and cells without `r` attributes (85M rows: 2.2 GB of XML in ~2 MB)."""
    row = b"<row><c><v>1</v></c></row>"
    return with_part(invoices_workbook(), SHEET, _NS + b"<sheetData>", row, rows * len(row),
                     b"</sheetData></worksheet>")


def huge_shared_string(size: int, declared: int | None = None) -> bytes:
    """One shared string of `size` bytes (the sheet refers to it)."""
    base = invoices_workbook(extra=lambda ws: ws.write(30, 0, "the long one"))
    return with_part(base, SST, _SST_NS + b' count="1" uniqueCount="1"><si><t>', b"x", size,
                     b"</t></si></sst>", declared)


def whitespace_sheet(size: int) -> bytes:
    """The invoice sheet padded with `size` bytes of white space between its tags."""
    return with_part(invoices_workbook(), SHEET, _NS + b"<sheetData>", b" " * 64, size,
                     b"</sheetData></worksheet>")


def many_shared_strings(count: int, declare: bool = True) -> bytes:
    """`count` one-letter shared strings (50M: 800 MB of XML in a few hundred KB)."""
    si = b"<si><t>a</t></si>"
    counts = f' count="{count}" uniqueCount="{count}">'.encode() if declare else b">"
    return with_part(invoices_workbook(), SST, _SST_NS + counts, si, count * len(si), b"</sst>")


def comma_line_csv(size: int) -> bytes:
    """An invoices CSV whose second line is `size` commas (50 MB: one row of 50M fields)."""
    return (",".join(HEADER) + "\n").encode() + b"," * size + b"\nINV-1,C1,2026-01-05,10.00\n"


def long_field_csv(good: int = 48, chars: int = 140_000) -> bytes:
    """`good` invoice rows and, in the middle, one row whose description holds `chars` characters."""
    lines = [",".join(HEADER + ["description"])]
    for i in range(good + 1):
        desc = "x" * chars if i == good // 2 else "ok"
        lines.append(f"INV-{i:04d},C1,2026-01-05,{100 + i}.00,{desc}")
    return ("\n".join(lines) + "\n").encode()


def overflow_csv(rows: int = 20) -> bytes:
    """`rows` lines of 9,999,999,999,999,999.99 (their int64 sum wraps) and one normal line."""
    lines = [",".join(HEADER)]
    lines += [f'INV-{i:04d},C1,2026-01-05,"9,999,999,999,999,999.99"' for i in range(rows)]
    lines.append("INV-9999,C1,2026-01-05,138.32")
    return ("\n".join(lines) + "\n").encode()


def write(folder: Path, name: str, data: bytes) -> Path:
    path = folder / name
    path.write_bytes(data)
    return path


def ods_repeated_cells(rows: int = 1_048_000, columns: int = 1_000) -> bytes:
    """An OpenDocument spreadsheet whose one XML row, repeated, stands for rows × columns cells with text."""
    table = ['<table:table table:name="Invoices"><table:table-row>']
    table += [f"<table:table-cell office:value-type=\"string\"><text:p>{h}</text:p></table:table-cell>"
              for h in HEADER]
    table.append("</table:table-row>")
    table.append(f'<table:table-row table:number-rows-repeated="{rows}"><table:table-cell '
                 f'table:number-columns-repeated="{columns}" office:value-type="string"><text:p>x</text:p>'
                 "</table:table-cell></table:table-row></table:table>")
    content = (
        '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
        'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
        'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
        'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2">'
        "<office:body><office:spreadsheet>" + "".join(table) +
        "</office:spreadsheet></office:body></office:document-content>")
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
        'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
        '<manifest:file-entry manifest:full-path="/" '
        'manifest:media-type="application/vnd.oasis.opendocument.spreadsheet"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>'
        "</manifest:manifest>")
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.spreadsheet",
                    compress_type=zipfile.ZIP_STORED)
        zf.writestr("content.xml", content)
        zf.writestr("META-INF/manifest.xml", manifest)
    return out.getvalue()
