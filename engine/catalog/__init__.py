"""The catalog: offering bundles (BPMN + forms + metadata) deployed as immutable versions."""
