"""The BPMN core: SpiffWorkflow and nothing else (parse, run, script sandbox, serialize)."""
