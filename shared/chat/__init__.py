"""The chat service: from a visitor's question to a stored, explained answer."""
