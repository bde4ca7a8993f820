"""Concurrent requests through the gateway (issue 2: 20 registrations of one name)."""
from concurrent.futures import ThreadPoolExecutor

from support import assert_error, assert_ok, new_name, walk


def test_twenty_registrations_of_one_name(platform):
    accounts = [platform.new_account() for _ in range(20)]
    name = new_name()

    def register(client):
        return client.post("/api/ufops", json={"name": name, "aclMode": 0})

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(register, accounts))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] + [409] * 19, [a.text for a in answers if a.status_code != 409]
    for answer in answers:
        if answer.status_code == 409:
            assert_error(answer, 409, "UfopExists")
    (winner,) = [c for c, a in zip(accounts, answers) if a.status_code == 200]
    detail = assert_ok(platform.admin.get(f"/api/ufops/{name}"))
    assert detail["owner"] == winner.uid
    assert walk(platform.admin, 1000).count(name) == 1


def test_twenty_registrations_of_different_names(platform):
    owner = platform.new_account()
    names = [new_name() for _ in range(20)]

    def register(name):
        return owner.post("/api/ufops", json={"name": name, "aclMode": 2})

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(register, names))
    assert [a.status_code for a in answers] == [200] * 20, [a.text for a in answers]
    assert set(names) <= set(walk(owner, 1000))


def test_concurrent_apply_and_reads(platform):
    owner = platform.new_account()
    name = platform.register(owner, acl=1)
    friends = [platform.new_account() for _ in range(10)]

    def apply_and_read(client):
        first = client.post(f"/api/ufops/{name}/apply")
        second = client.get(f"/api/ufops/{name}")
        return first.status_code, second.status_code

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(apply_and_read, friends))
    assert results == [(200, 200)] * 10
    listed = assert_ok(owner.get(f"/api/ufops/{name}"))["accessList"]
    assert sorted(listed) == sorted(f.uid for f in friends)
