"""Identity: users, groups, roles and API tokens; who someone is and what their roles allow."""
