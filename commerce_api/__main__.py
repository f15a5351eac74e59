from commerce_api.app import create_app
from shared.service import main

if __name__ == "__main__":
    main("commerce_api", create_app, lambda s: (s.commerce_host, s.commerce_port))
