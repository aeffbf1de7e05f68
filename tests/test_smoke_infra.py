from tests.factories import auth, make_member, make_staff, region_tree


def test_me_and_regions(client):
    tree = region_tree()
    admin = make_staff("community_admin", tree["a1"])
    member = make_member("张三")
    assert client.get("/api/v1/me", headers=auth(member)).get_json()["name"] == "张三"
    assert client.get("/api/v1/regions", headers=auth(admin)).get_json()["total"] == 7
