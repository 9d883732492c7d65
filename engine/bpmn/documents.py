"""Read the bytes of a BPMN or DMN file as the text it declares, and store it as UTF-8.

Modelers write what their platform likes: Camunda Modeler on Windows may save windows-1252,
some tools UTF-16 with a byte-order mark. The XML declaration (or the BOM) says which; a file is
never decoded as UTF-8 blindly. FlowDesk stores every document as UTF-8 with a declaration that
says so, so a stored version reads back the same everywhere (the diagram, a redeploy).
"""

import codecs
import re

from engine.errors import InvalidProcess

BPMN_SUFFIXES = (".bpmn", ".bpmn20.xml")
_DECLARATION = re.compile(rb"^<\?xml[^>]*?\?>", re.DOTALL)
_ENCODING = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)


def is_bpmn(name: str) -> bool:
    """A BPMN file by its name: `.bpmn`, or Flowable's and Activiti's `.bpmn20.xml`."""
    return name.lower().endswith(BPMN_SUFFIXES)


def declared_encoding(content: bytes) -> str:
    """The encoding of an XML document: its BOM, else its declaration, else UTF-8 (the default).

    Raises:
        InvalidProcess: the declaration names an encoding Python does not know.
    """
    for bom, encoding in _BOMS:
        if content.startswith(bom):
            return encoding
    if content[:2] in (b"<\x00", b"\x00<"):  # UTF-16 without a BOM (XML 1.0 appendix F)
        return "utf-16-le" if content[0] == ord("<") else "utf-16-be"
    declaration = _DECLARATION.match(content[:512])
    found = _ENCODING.search(declaration.group(0)) if declaration else None
    name = found.group(1).decode("ascii") if found else "utf-8"
    try:
        return codecs.lookup(name).name
    except LookupError as exc:
        raise InvalidProcess(f"the XML declaration names an unknown encoding '{name}'") from exc


def to_utf8(name: str, content: bytes) -> bytes:
    """Return the document as UTF-8 bytes with a declaration that says so.

    A UTF-8 document without a BOM is returned unchanged (same bytes, same version hash).

    Raises:
        InvalidProcess: the bytes are not text in the encoding the document declares.
    """
    encoding = declared_encoding(content)
    if encoding == "utf-8" and not content.startswith(codecs.BOM_UTF8):
        return content
    try:
        text = content.decode(encoding)
    except UnicodeDecodeError as exc:
        raise InvalidProcess(
            f"{name}: not {encoding} text as its XML declaration says (byte {exc.start})",
            problems=[{"file": name, "line": None, "id": None, "message": f"not {encoding} text"}],
        ) from exc
    text = text.removeprefix("\ufeff")
    body = _DECLARATION.sub(b"", text.encode("utf-8"), count=1)
    return b'<?xml version="1.0" encoding="UTF-8"?>' + body


def as_text(content: bytes) -> str:
    """The document's text, read in the encoding it declares (for storing and showing)."""
    return to_utf8("document", content).decode("utf-8")
