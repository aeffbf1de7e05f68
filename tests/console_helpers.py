"""Signing in to the console and posting its forms from the test client, CSRF token included."""

import re

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "password123"  # tests/factories.make_staff's


def csrf_token(client, path="/console/login"):
    page = client.get(path)
    match = CSRF.search(page.get_data(as_text=True))
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


def sign_in(client, user, password=PASSWORD):
    token = csrf_token(client)
    return client.post("/console/login", data={"csrf_token": token, "username": user.username,
                                               "password": password})


def post_form(client, path, data=None, page="/console/"):
    """POST a console form as the page at ``page`` would, with that page's CSRF token."""
    return client.post(path, data={"csrf_token": csrf_token(client, page), **(data or {})})
