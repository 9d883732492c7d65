"""A version's BPMN diagram for people: the process file, labelled in the reader's language.

Diagram labels are the elements' `name` attributes. For Chinese, each element's `name_zh`
property replaces its name; a lane without one takes the Chinese name of the group it stands for,
and the pool takes the offering's Chinese name.
"""

import re
from functools import lru_cache

from lxml import etree

from engine.catalog.models import ProcessVersion

NS = {
    "bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL",
    "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core",
}
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)
_SLUG = re.compile(r"[^a-z0-9]+")


def main_file(version: ProcessVersion) -> str:
    """The name of the version's file that holds its main process."""
    key, files = version.meta.get("process_id", version.process_key), version.files
    return next(
        (name for name, text in files.items() if f'id="{key}"' in text),
        f"{key}.bpmn" if f"{key}.bpmn" in files else next(iter(files)),
    )


def diagram(version: ProcessVersion, lang: str, group_names: dict[str, str]) -> str:
    """The main BPMN file with its labels in `lang` ("en" leaves the file as deployed)."""
    text = version.files[main_file(version)]
    if lang != "zh":
        return text
    names = tuple(sorted(group_names.items()))
    return _labelled(text, version.meta.get("name_zh") or "", names)


@lru_cache(maxsize=64)
def _labelled(text: str, offering_zh: str, group_names: tuple) -> str:
    groups = dict(group_names)
    root = etree.fromstring(text.encode("utf-8"), _PARSER)
    for element in root.iter():
        if not isinstance(element.tag, str) or element.get("name") is None:
            continue
        zh = element.find(
            "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property[@name='name_zh']",
            NS,
        )
        if zh is not None and zh.get("value"):
            element.set("name", zh.get("value"))
        elif element.tag == f"{{{NS['bpmn']}}}lane":
            slug = _SLUG.sub("_", element.get("name").lower()).strip("_")
            if slug in groups:
                element.set("name", groups[slug])
        elif element.tag == f"{{{NS['bpmn']}}}participant" and offering_zh:
            element.set("name", offering_zh)
    return etree.tostring(root, encoding="unicode")
