from chat_server.app import create_app, tune_gc
from shared.service import main

if __name__ == "__main__":
    tune_gc()
    main("chat_server", create_app, lambda s: (s.chat_host, s.chat_port))
