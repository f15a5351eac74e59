"""The commerce API answers its probes, CORS preflights, and unknown paths without a stack trace."""


async def test_probes(commerce):
    for path in ("/healthz", "/readyz"):
        resp = await commerce.get(path)
        assert resp.status == 200, (path, await resp.text())
        assert (await resp.json())["code"] == 1


async def test_cors_preflight_answers_empty(commerce):
    resp = await commerce.options("/api/account/login", headers={
        "Origin": "http://shop.example", "Access-Control-Request-Headers": "token"})
    assert resp.status == 200
    assert await resp.read() == b""
    assert resp.headers["Access-Control-Allow-Origin"] == "*"
    assert "token" in resp.headers["Access-Control-Allow-Headers"]
