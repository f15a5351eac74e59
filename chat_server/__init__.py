"""The real-time customer-service chat server: WebSocket protocol, presence, assignment, persistence
and the `/kefuapi/*` and chat `/api/*` endpoints."""
