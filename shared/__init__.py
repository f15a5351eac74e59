"""Code both services use: settings, database pool, migrations, HTTP conventions, the `kefu` CLI.

Nothing here imports `chat_server` or `commerce_api`.
"""
