"""Offering bundles: `processes/<key>/` holds `<key>.bpmn` (and called processes), `forms/*.json`.

A bundle is the deploy unit. Its BPMN files and form definitions are hashed together, so changing
only a form makes a new version, and a running request keeps the forms of the version it started
on. The catalog categories of `processes/categories.json` are data as well.
"""

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from engine.bpmn.dmn import is_dmn
from engine.bpmn.documents import is_bpmn, to_utf8
from engine.bpmn.specs import ParsedProcess, invalid, parse_process
from engine.errors import InvalidProcess
from forms.model import from_definition

BPMN_SUFFIX = ".bpmn"  # and Flowable's .bpmn20.xml: documents.BPMN_SUFFIXES
FORMS_FOLDER = "forms/"
MAX_FILES = 50
MAX_FORM_BYTES = 512 * 1024
CATEGORIES_FILE = "categories.json"


@dataclass
class Bundle:
    """One offering's validated BPMN files and forms: what a version stores."""

    key: str
    bpmn: dict[str, bytes]  # file name -> BPMN bytes
    forms: dict[str, dict]  # form key -> definition
    process: ParsedProcess

    @property
    def content_hash(self) -> str:
        return bundle_hash(self.bpmn, self.forms)

    @property
    def meta(self) -> dict:
        return self.process.meta


def canonical(definition: dict) -> bytes:
    """A form definition as hashed: key order and layout do not make a new version."""
    return json.dumps(
        definition, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode()


def bundle_hash(bpmn: dict[str, bytes], forms: dict[str, dict]) -> str:
    """The hash naming one version: BPMN file names and bytes, then forms, order-independent."""
    digest = hashlib.sha256()
    for name in sorted(bpmn):
        digest.update(hashlib.sha256(name.encode()).digest())
        digest.update(hashlib.sha256(bpmn[name]).digest())
    for key in sorted(forms):
        digest.update(hashlib.sha256(f"form:{key}".encode()).digest())
        digest.update(hashlib.sha256(canonical(forms[key])).digest())
    return digest.hexdigest()


def read_folder(folder: Path) -> dict[str, bytes]:
    """The files of a bundle folder: `*.bpmn` and `forms/*.json`, by bundle-relative name."""
    files = {
        f.name: f.read_bytes()
        for f in sorted(folder.iterdir())
        if f.is_file() and (is_bpmn(f.name) or is_dmn(f.name))
    }
    for form in sorted((folder / "forms").glob("*.json")):
        files[FORMS_FOLDER + form.name] = form.read_bytes()
    return files


def parse_bundle(key: str, files: dict[str, bytes], *, process_id: str | None = None) -> Bundle:
    """Parse and validate a bundle's BPMN (stored as UTF-8, whatever it declared) and forms.

    Raises:
        InvalidProcess: with extra["problems"], a list of {file, line, id, message}: every
            problem of the forms, then those of the BPMN.
    """
    if len(files) > MAX_FILES:
        raise InvalidProcess(
            f"a bundle has at most {MAX_FILES} files",
            problems=[_problem(None, None, "too many files")],
        )
    problems: list[dict] = []
    bpmn = {}
    for name, data in files.items():
        if is_bpmn(name) or is_dmn(name):  # DMN decisions are deployed with the BPMN
            try:
                bpmn[name] = to_utf8(name, data)
            except InvalidProcess as exc:
                problems.append(_problem(name, None, exc.detail))
    forms = {}
    for name, data in files.items():
        if is_bpmn(name) or is_dmn(name):
            continue
        if not (name.startswith(FORMS_FOLDER) and name.endswith(".json")):
            message = "a bundle holds .bpmn (or .bpmn20.xml) and .dmn files, and forms/*.json"
            problems.append(_problem(name, None, message))
            continue
        definition = _read_form(key, name, data, problems)
        if definition is not None:
            forms[definition["key"]] = definition
    try:
        process = parse_process(key, bpmn, process_id=process_id)
    except InvalidProcess as exc:
        problems.extend(exc.extra.get("problems", []))
        process = None
    if problems:
        raise invalid(key, problems)
    return Bundle(key, bpmn, forms, process)


def _read_form(key: str, name: str, data: bytes, problems: list) -> dict | None:
    stem = name[len(FORMS_FOLDER) : -len(".json")]
    if len(data) > MAX_FORM_BYTES:
        problems.append(_problem(name, None, f"a form is at most {MAX_FORM_BYTES} bytes"))
        return None
    try:
        definition = json.loads(data.decode("utf-8"))
        from_definition(definition, source=name)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        problems.append(_problem(name, getattr(exc, "lineno", None), f"not JSON: {exc}"))
        return None
    except (ValueError, TypeError, RecursionError) as exc:
        problems.append(_problem(name, None, str(exc)))
        return None
    expected = f"{key}.{stem}"
    if definition["key"] != expected:
        problems.append(
            _problem(
                name,
                None,
                f"the form key must be '{expected}' (the file name)",
                element_id=definition["key"],
            )
        )
        return None
    return definition


def _problem(file, line, message, *, element_id=None) -> dict:
    return {"file": file, "line": line, "id": element_id, "message": message}


def form_file_name(form_key: str) -> str:
    """`new_hire_onboarding.request` -> `forms/request.json`."""
    return FORMS_FOLDER + form_key.split(".", 1)[-1] + ".json"


class ProcessLibrary:
    """The bundled offerings of processes/ and the catalog's categories, read once per process."""

    def __init__(self, bundles: dict[str, Bundle], categories: list[dict] | None = None):
        self.bundles = bundles
        self.categories = categories or []

    @classmethod
    def load(cls, directory: Path) -> "ProcessLibrary":
        """Parse every `processes/<key>/` bundle; the folder name is the offering key."""
        directory = Path(directory)
        bundles = {}
        for folder in sorted(p for p in directory.iterdir() if p.is_dir()):
            files = read_folder(folder)
            if any(is_bpmn(name) for name in files):
                bundles[folder.name] = parse_bundle(folder.name, files)
        categories_file = directory / CATEGORIES_FILE
        categories = []
        if categories_file.is_file():
            categories = json.loads(categories_file.read_text(encoding="utf-8"))["categories"]
        return cls(bundles, categories)

    def get(self, key: str) -> Bundle:
        return self.bundles[key]

    def keys(self) -> list[str]:
        return sorted(self.bundles)
