"""The thin commerce API: buyer and merchant accounts, users, shops, goods, orders, customer-service
settings and uploads, on the shared Postgres schema. The chat server reads its internal endpoints."""
