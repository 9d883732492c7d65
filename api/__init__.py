"""The JSON API: create_app(), blueprints under /api/v1, problem+json errors."""
