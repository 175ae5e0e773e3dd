"""Visitor chat: HTTP, SSE and WebSocket; widget config; feedback."""
