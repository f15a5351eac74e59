"""`kefu loadtest`: a load tester that speaks the chat protocol (scenarios idle, chat, storm, echo).

cli (options) → runner (targets, tokens, layout, worker processes) → engine (one process's
connections, senders, heartbeats, storms) → metrics and report (histograms, summary, JSON, plot).
"""
