def test_health_and_register(platform):
    health = platform.anonymous.get("/healthz")
    assert health.status_code == 200
    assert health.json()["data"] == {"gateway": "ok", "registry": "ok", "scheduler": "ok",
                                      "logs": "ok"}
    name = platform.register(platform.admin)
    answer = platform.admin.get(f"/api/ufops/{name}")
    assert answer.status_code == 200
    assert answer.json()["data"]["name"] == name
