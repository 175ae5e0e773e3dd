"""Admin API: login, tenants, bots, FAQs, documents, API keys, users, logs, analytics."""
