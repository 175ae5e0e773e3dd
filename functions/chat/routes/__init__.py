"""The chat API: HTTP (JSON and SSE), WebSocket, widget config, feedback."""
