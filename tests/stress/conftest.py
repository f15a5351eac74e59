"""Stress-suite fixtures. The client tests reuse the in-process `live` chat server of the chat
server tests; the stress test starts its own processes (see test_stress.py)."""
from tests.chat_server.conftest import chat_settings, commerce_server, live  # noqa: F401  (fixtures)
