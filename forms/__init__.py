"""Forms: JSON Schema definitions with UI hints, validation with coded field messages in Chinese
and English, Camunda `formData` mapping, and the field tree both front ends render."""
