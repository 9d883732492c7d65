"""Form registry: JSON-Schema form definitions as data, server-side validation, rendering."""
