"""The process: ASGI app, HTTP and WebSocket transports, request context, events, mail."""
