"""Every CLI behaviour through click's CliRunner."""

import json

import click
import pytest
from click.testing import CliRunner

from pipeline.cli import cli
from sitebuilder import PARTNERSHIP_ARTICLE, article_html, rss

RELATIONS = {"SUPPLIES", "SOURCES_FROM", "PARTNERS_WITH", "MANUFACTURES_AT"}
STATUSES = {"active", "planned", "possible", "ended", "denied"}
KINDS = {None, "joint_venture", "co_development", "alliance", "licensing", "other"}


def invoke(*args, db=None, input=None, env=None):
    runner = CliRunner()
    prefix = ["--db", str(db)] if db else []
    return runner.invoke(cli, [*prefix, *args], input=input, env=env, catch_exceptions=False)


def all_commands(group: click.Group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from all_commands(command, (*prefix, name))


@pytest.mark.parametrize("path", [(), *all_commands(cli)], ids=lambda p: " ".join(p) or "supplywatch")
def test_every_command_has_help(path):
    result = invoke(*path, "--help")
    assert result.exit_code == 0
    assert "Usage:" in result.output
    command = cli
    for name in path:
        command = command.commands[name]
    assert command.help and command.help.strip(), f"{path} has no help text"


def assert_one_line_error(result, *fragments):
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]


def test_feeds_add_list_remove(tmp_path):
    db = tmp_path / "f.db"
    added = invoke("feeds", "add", "http://127.0.0.1:9/feed.xml", "--name", "Local", db=db)
    assert added.exit_code == 0 and "added: feed 1" in added.output
    again = invoke("feeds", "add", "http://127.0.0.1:9/feed.xml", db=db)
    assert again.exit_code == 0 and "already present" in again.output
    listed = json.loads(invoke("feeds", "list", "--json", db=db).output)
    assert [(f["id"], f["url"], f["name"]) for f in listed] == [(1, "http://127.0.0.1:9/feed.xml", "Local")]
    assert "127.0.0.1:9/feed.xml" in invoke("feeds", "list", db=db).output
    removed = invoke("feeds", "remove", "1", db=db)
    assert removed.exit_code == 0 and json.loads(invoke("feeds", "list", "--json", db=db).output) == []


def test_feeds_import_opml(tmp_path):
    opml = tmp_path / "subs.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><head><title>subs</title></head><body>'
        '<outline text="Autos"><outline text="One" xmlUrl="http://127.0.0.1:9/one.xml"/>'
        '<outline text="Two" title="Second" xmlUrl="http://127.0.0.1:9/two.xml"/>'
        '<outline text="Broken" xmlUrl="ftp://nowhere/x"/></outline></body></opml>'
    )
    db = tmp_path / "o.db"
    result = invoke("feeds", "import", str(opml), db=db)
    assert result.exit_code == 0 and "2 added, 0 already present, 1 skipped" in result.output
    names = [f["name"] for f in json.loads(invoke("feeds", "list", "--json", db=db).output)]
    assert names == ["One", "Second"]
    assert "0 added, 2 already present" in invoke("feeds", "import", str(opml), db=db).output


@pytest.mark.parametrize(
    "args, fragments",
    [
        (("feeds", "remove", "http://127.0.0.1:9/unknown.xml"), ("no feed", "feeds list")),
        (("feeds", "add", "not a url"), ("not a feed URL",)),
        (("feeds", "add", "ftp://example.invalid/feed"), ("http",)),
        (("feeds", "import", "/no/such/file.opml"), ("cannot read",)),
        (("extract", "/no/such/article.txt"), ("cannot read", "/no/such/article.txt")),
        (("extract", "htp://bad url"), ("not a URL",)),
        (("run",), ("--once",)),
        (("run", "--once"), ("no feeds",)),
    ],
)
def test_user_mistakes_give_one_line_errors(tmp_path, args, fragments):
    assert_one_line_error(invoke(*args, db=tmp_path / "m.db"), *fragments)


def test_missing_database_folder_is_one_line_error(tmp_path):
    assert_one_line_error(invoke("claims", db=tmp_path / "absent" / "x.db"), "does not exist", "--db")


def test_bad_config_file_is_one_line_error(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("read_timeout = [")
    assert_one_line_error(invoke("--config", str(bad), "claims", db=tmp_path / "x.db"), "not valid TOML")
    assert_one_line_error(invoke("--config", str(tmp_path / "none.toml"), "claims"), "cannot read config")


def validate_extraction(obj, text=None):
    """The CLAIMS.md `extract` shape."""
    assert set(obj) >= {"source", "entities", "claims"}
    for entity in obj["entities"]:
        assert set(entity) >= {"text", "label", "start", "end", "canonical"}
        assert isinstance(entity["start"], int) and isinstance(entity["end"], int)
        assert 0 <= entity["start"] < entity["end"]
        if text is not None:
            assert text[entity["start"]:entity["end"]] == entity["text"]
    for claim in obj["claims"]:
        assert set(claim) >= {"relation", "subject", "object", "component", "kind", "status", "evidence", "confidence"}
        assert claim["relation"] in RELATIONS and claim["status"] in STATUSES and claim["kind"] in KINDS
        assert isinstance(claim["subject"], str) and claim["subject"] and isinstance(claim["object"], str)
        assert 0.0 <= claim["confidence"] <= 1.0
        assert claim["evidence"] and (text is None or claim["evidence"] in text)


def test_extract_plain_text_html_and_stdin(tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_text(" ".join(PARTNERSHIP_ARTICLE))
    page = tmp_path / "b.html"
    page.write_text(article_html("Stellantis and CATL", PARTNERSHIP_ARTICLE))
    result = invoke("extract", "--text", str(plain), str(page), "-", input=" ".join(PARTNERSHIP_ARTICLE))
    assert result.exit_code == 0
    objects = [json.loads(line) for line in result.output.splitlines()]
    assert [o["source"] for o in objects] == [str(plain), str(page), "-"]
    for obj in objects:
        validate_extraction(obj, obj["text"])
        labels = {(e["canonical"], e["label"]) for e in obj["entities"]}
        assert {("Stellantis", "ORG"), ("CATL", "ORG")} <= labels
        pairs = {(c["relation"], frozenset((c["subject"], c["object"]))) for c in obj["claims"]}
        assert ("PARTNERS_WITH", frozenset({"Stellantis", "CATL"})) in pairs
    assert objects[1]["title"] == "Stellantis and CATL"


def test_extract_url_from_loopback_server(httpserver):
    httpserver.expect_request("/story").respond_with_data(
        article_html("Battery deal", PARTNERSHIP_ARTICLE), content_type="text/html"
    )
    result = invoke("extract", httpserver.url_for("/story"))
    assert result.exit_code == 0
    obj = json.loads(result.output)
    validate_extraction(obj)
    assert obj["source"] == httpserver.url_for("/story") and obj["claims"]


def test_extract_url_that_fails_is_one_line_error(httpserver):
    httpserver.expect_request("/missing").respond_with_data("nope", status=404)
    assert_one_line_error(invoke("extract", httpserver.url_for("/missing")), "HTTP 404")


def test_run_once_and_claims_through_the_cli(httpserver, tmp_path):
    base = httpserver.url_for("")
    httpserver.expect_request("/feed.xml").respond_with_data(
        rss([{"title": "Battery venture", "link": f"{base}/a", "date": "2025-03-04"}]), content_type="application/rss+xml"
    )
    httpserver.expect_request("/a").respond_with_data(article_html("Battery venture", PARTNERSHIP_ARTICLE), content_type="text/html")
    db = tmp_path / "c.db"
    invoke("feeds", "add", httpserver.url_for("/feed.xml"), db=db)
    ran = invoke("run", "--once", db=db)
    assert ran.exit_code == 0
    assert ran.output.strip().splitlines()[-1].startswith("feeds: 1 polled, 0 not modified, 0 failed; articles: 1 new")
    claims = json.loads(invoke("claims", "--json", db=db).output)
    assert any(c["relation"] == "PARTNERS_WITH" and {c["subject"], c["object"]} == {"Stellantis", "CATL"} for c in claims)
    assert all(c["evidence_count"] == 1 for c in claims)
    table = invoke("claims", db=db).output
    assert "Stellantis" in table and "PARTNERS_WITH" in table


def test_demo_runs_offline_and_finds_renault_valeo(tmp_path):
    demo_db = tmp_path / "demo.db"
    result = invoke("demo", "--demo-db", str(demo_db))
    assert result.exit_code == 0, result.output
    assert "articles: 3 new" in result.output
    assert "Valeo" in result.output and "PARTNERS_WITH" in result.output
    claims = json.loads(invoke("claims", "--json", db=demo_db).output)
    renault_valeo = [c for c in claims if c["relation"] == "PARTNERS_WITH" and {c["subject"], c["object"]} == {"Renault", "Valeo"}]
    assert len(renault_valeo) == 1 and renault_valeo[0]["evidence_count"] == 3 and renault_valeo[0]["status"] == "ended"
    changes = json.loads(invoke("changes", "--since", "24h", "--json", db=demo_db).output)
    assert {(c["subject"], c["object"], c["before_status"], c["after_status"], c["happened_at"][:10]) for c in changes
            if c["kind"] == "status" and c["relation"] == "PARTNERS_WITH"} == {("Renault", "Valeo", "active", "ended", "2025-11-14")}
    assert "active → ended" in result.output
    digest_file = tmp_path / "demo-digest.eml"
    assert digest_file.is_file() and b"Renault PARTNERS_WITH Valeo: active" in digest_file.read_bytes()
    again = invoke("demo", "--demo-db", str(demo_db))  # re-running starts afresh and gives the same
    assert again.exit_code == 0

    def without_times(rows):
        return [{k: v for k, v in row.items() if k != "first_seen_at"} for row in rows]

    assert without_times(json.loads(invoke("claims", "--json", db=demo_db).output)) == without_times(claims)


def test_run_once_with_failing_feeds_exits_zero_and_counts_them(httpserver, tmp_path):
    import time

    from werkzeug import Response

    base = httpserver.url_for("")
    httpserver.expect_request("/garbage.xml").respond_with_data(b"{{{ this is not xml", content_type="text/xml")
    httpserver.expect_request("/error.xml").respond_with_data("down", status=500)

    def hang(_request):
        time.sleep(0.8)  # past the 0.5 s read timeout, but short of blocking the article fetch that follows
        return Response("<rss/>")

    httpserver.expect_request("/hang.xml").respond_with_handler(hang)
    httpserver.expect_request("/good.xml").respond_with_data(
        rss([{"title": "Battery venture", "link": f"{base}/a"}]), content_type="application/rss+xml"
    )
    httpserver.expect_request("/a").respond_with_data(article_html("Battery venture", PARTNERSHIP_ARTICLE), content_type="text/html")
    db = tmp_path / "f.db"
    # the test server answers one request at a time: pages are fetched after all polls, so the hang must end first
    for path in ("/garbage.xml", "/error.xml", "/good.xml", "/hang.xml"):
        invoke("feeds", "add", httpserver.url_for(path), db=db)
    result = invoke("run", "--once", db=db, env={"SUPPLYWATCH_READ_TIMEOUT": "0.5"})
    assert result.exit_code == 0
    assert "feeds: 4 polled, 0 not modified, 3 failed; articles: 1 new" in result.output
    feeds = {f["url"].rsplit("/", 1)[1]: f for f in json.loads(invoke("feeds", "list", "--json", db=db).output)}
    assert [feeds[name]["error_count"] for name in ("garbage.xml", "error.xml", "hang.xml", "good.xml")] == [1, 1, 1, 0]
    time.sleep(0.5)  # let the hanging handler finish before the server is torn down
