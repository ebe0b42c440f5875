from tests.conftest import post


def test_post_and_read(client, site):
    r = post(client, body="Hello **world**")
    assert r.status_code == 201, r.get_json()
    r = client.get("/api/v1/sites/news/comments?thread=article-42")
    assert [c["body_html"] for c in r.get_json()["comments"]] == ["<p>Hello **world**</p>"]
