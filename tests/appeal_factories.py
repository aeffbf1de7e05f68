"""A district with departments and staff of every kind around appeals, and helpers to file and move appeals through
the API as the mini-program and the console do."""

from tests.factories import auth, make_department, make_member, make_staff, make_unit, region_tree

RESIDENT_PHONE = "13812345678"


def appeal_world():
    """region_tree() plus: a resident, the community admins of a1 and a2, street a's and the district's admins,
    a department of street a (with its admin), one of the district, one of street b (with its admin), and a unit
    admin in a1."""
    tree = region_tree()
    tree["resident"] = make_member(name="张秀英", phone=RESIDENT_PHONE)
    tree["neighbour"] = make_member(name="李建国")
    tree["admin_a1"] = make_staff("community_admin", tree["a1"], name="和平社区书记")
    tree["admin_a2"] = make_staff("community_admin", tree["a2"])
    tree["admin_b1"] = make_staff("community_admin", tree["b1"])
    tree["street_admin"] = make_staff("street_admin", tree["street_a"])
    tree["district_admin"] = make_staff("district_admin", tree["district"])
    tree["department"] = make_department(tree["street_a"], "甲街道城管执法队")
    tree["department_admin"] = make_staff("department_admin", tree["department"], name="城管队长")
    tree["district_department"] = make_department(tree["district"], "区住房和城乡建设委员会")
    tree["district_department_admin"] = make_staff("department_admin", tree["district_department"])
    tree["other_department"] = make_department(tree["street_b"], "乙街道房管所")
    tree["other_department_admin"] = make_staff("department_admin", tree["other_department"])
    tree["unit_admin"] = make_staff("unit_admin", make_unit(tree["a1"]))
    return tree


def appeal_body(community, **fields):
    return {"community_id": community.id, "kind": "problem", "title": "楼道堆满快递纸箱",
            "content": "3号楼2单元楼道堆物，影响通行，存在消防隐患", **fields}


def submit(client, user, community, **fields):
    return client.post("/api/v1/appeals", json=appeal_body(community, **fields), headers=auth(user))


def file_for_resident(client, staff, community, source="hotline", **fields):
    body = {"source": source, "resident_name": "王大爷", "resident_phone": "010-62345678", **fields}
    if source == "hotline":
        body.setdefault("work_order_no", "GD20240601001")
    return submit(client, staff, community, **body)


def act(client, user, appeal_id, action, body=None):
    return client.post(f"/api/v1/appeals/{appeal_id}/{action}", json=body or {}, headers=auth(user))


def new_appeal(client, world, **fields):
    response = submit(client, world["resident"], world["a1"], **fields)
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def accepted_appeal(client, world, **fields):
    appeal_id = new_appeal(client, world, **fields)
    assert act(client, world["admin_a1"], appeal_id, "accept").status_code == 200
    return appeal_id


def escalated_appeal(client, world, **fields):
    appeal_id = accepted_appeal(client, world, **fields)
    response = act(client, world["admin_a1"], appeal_id, "escalate",
                   {"department_id": world["department"].id, "note": "需执法队清理楼道堆物"})
    assert response.status_code == 200, response.get_json()
    return appeal_id


def resolved_appeal(client, world, **fields):
    appeal_id = accepted_appeal(client, world, **fields)
    assert act(client, world["admin_a1"], appeal_id, "resolve", {"reply": "已联系业主清理"}).status_code == 200
    return appeal_id


def get(client, user, appeal_id):
    return client.get(f"/api/v1/appeals/{appeal_id}", headers=auth(user))


__all__ = ["RESIDENT_PHONE", "accepted_appeal", "act", "appeal_body", "appeal_world", "escalated_appeal",
           "file_for_resident", "get", "make_member", "new_appeal", "resolved_appeal", "submit"]
