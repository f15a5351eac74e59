"""Typed keys of the chat server's application state."""
from __future__ import annotations

from aiohttp import web

from chat_server.chat import ChatService
from chat_server.commerce import CommerceClient
from chat_server.hub import Hub
from chat_server.limits import Limits
from chat_server.presence import Presence
from chat_server.revocation import RevocationListener
from chat_server.sweeper import IdleSweeper
from chat_server.tasks import Tasks

HUB = web.AppKey("hub", Hub)
PRESENCE = web.AppKey("presence", Presence)
COMMERCE = web.AppKey("commerce", CommerceClient)
CHAT = web.AppKey("chat", ChatService)
SWEEPER = web.AppKey("sweeper", IdleSweeper)
REVOCATION = web.AppKey("revocation", RevocationListener)
TASKS = web.AppKey("tasks", Tasks)
LIMITS = web.AppKey("limits", Limits)
