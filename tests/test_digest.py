"""The digest email: built from the store, sent to a real SMTP server on
loopback (aiosmtpd), recorded so that a window is never sent twice."""

from __future__ import annotations

import email
import socket
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from email import policy

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from click.testing import CliRunner

from pipeline import digest, store
from pipeline.cli import cli
from pipeline.errors import UserError
from pipeline.extract import content_hash
from pipeline.records import Article, Claim, Extraction, Mention


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Inbox:
    def __init__(self):
        self.envelopes = []
        self.logins = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd's naming)
        self.envelopes.append(envelope)
        return "250 Message accepted"

    def messages(self):
        return [email.message_from_bytes(e.original_content, policy=policy.default) for e in self.envelopes]

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password == b"s3cret")


@pytest.fixture
def smtp_server():
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(),
                            authenticator=inbox.authenticate, auth_require_tls=False)
    controller.start()
    yield controller, inbox
    controller.stop()


@pytest.fixture
def mail_settings(settings, smtp_server):
    controller, _inbox = smtp_server
    return replace(settings, smtp_host="127.0.0.1", smtp_port=controller.port, smtp_security="none",
                   digest_from="supplywatch@example.com", digest_to="analyst@example.com, buyer@example.com",
                   smtp_timeout=5.0)


def now() -> str:
    return store.utc_now()


def save(db, slug: str, published: str, claims: tuple[Claim, ...], title: str | None = None) -> None:
    text = f"Article {slug}. " + " ".join(c.evidence for c in claims)
    item = Article(url=f"https://news.example/{slug}", canonical_url=f"https://news.example/{slug}", text=text,
                   content_hash=content_hash(text), source="page", title=title or slug, site="news.example",
                   published_at=published, fetched_at=now())
    store.save_article(db, item, Extraction(mentions=mentions_in(text, claims), claims=claims))


def mentions_in(text: str, claims: tuple[Claim, ...]) -> tuple[Mention, ...]:
    names = {(c.subject, c.subject_label) for c in claims} | {(c.object, c.object_label) for c in claims}
    return tuple(Mention(name, label, text.index(name), text.index(name) + len(name), name)
                 for name, label in sorted(names) if name in text)


def stored_story(settings) -> None:
    db = store.open_db(settings.db_path)
    save(db, "announced", "2022-10-17", (Claim("PARTNERS_WITH", "Renault", "Valeo", "active",
                                               "Renault and Valeo announced a partnership.", 0.9),))
    save(db, "ended", "2025-11-14", (
        Claim("PARTNERS_WITH", "Renault", "Valeo", "ended", "Renault ended its partnership with Valeo <script>alert(1)</script>.", 0.9),
        Claim("SOURCES_FROM", "Renault", "China", "possible", "The stator might come from a Chinese supplier.", 0.7,
              component="stator", object_label="GPE"),
    ), title="Renault <b>drops</b> Valeo")


MAIL_SETTINGS = ("smtp_host", "smtp_port", "smtp_security", "smtp_timeout", "digest_from", "digest_to", "datasette_url")


def config_file(settings) -> str:
    """The settings a user would put in supplywatch.toml."""
    path = f"{settings.db_path}.toml"
    lines = ["[supplywatch]"] + [f"{name} = {getattr(settings, name)!r}".replace("'", '"') for name in MAIL_SETTINGS]
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


def send(settings, *extra):
    return CliRunner().invoke(cli, ["--db", settings.db_path, "--config", config_file(settings), "digest", "--send", *extra],
                              env={"SUPPLYWATCH_SMTP_USER": "", "SUPPLYWATCH_SMTP_PASSWORD": ""})


def test_sent_digest_has_both_parts_changes_first_and_inert_html(mail_settings, smtp_server):
    _controller, inbox = smtp_server
    stored_story(mail_settings)
    result = send(mail_settings)
    assert result.exit_code == 0, result.output
    assert "digest sent" in result.output

    [message] = inbox.messages()
    assert sorted(inbox.envelopes[0].rcpt_tos) == ["analyst@example.com", "buyer@example.com"]
    assert message["Subject"].startswith("supplywatch digest") and "1 change, 2 new claims" in message["Subject"]
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert text.index("CHANGES") < text.index("NEW CLAIMS") < text.index("MOST MENTIONED")
    assert "2 articles  Renault" in text
    assert "Renault PARTNERS_WITH Valeo: active → ended" in text
    assert "https://news.example/ended" in text and "in the news 2025-11-14" in text
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>drops</b>" not in html and "Renault &lt;b&gt;drops&lt;/b&gt; Valeo" in html
    assert '<a href="https://news.example/ended">' in html

    db = store.open_db(mail_settings.db_path)
    assert db["digests"].count == 1

    again = send(mail_settings)
    assert again.exit_code == 0 and "not sent" in again.output and "already sent" in again.output
    assert len(inbox.envelopes) == 1 and db["digests"].count == 1


def test_refused_connection_leaves_the_window_unsent_for_a_retry(mail_settings, smtp_server):
    _controller, inbox = smtp_server
    stored_story(mail_settings)
    closed = replace(mail_settings, smtp_port=free_port())
    refused = send(closed)
    assert refused.exit_code == 1
    assert "could not send the digest" in refused.output and "Traceback" not in refused.output
    assert store.open_db(mail_settings.db_path)["digests"].count == 0

    assert send(mail_settings).exit_code == 0
    assert len(inbox.envelopes) == 1 and "1 change" in inbox.messages()[0]["Subject"]


def test_new_events_after_a_sent_digest_go_out_in_the_next_one_only(mail_settings, smtp_server):
    _controller, inbox = smtp_server
    stored_story(mail_settings)
    db = store.open_db(mail_settings.db_path)
    start = (datetime.now(timezone.utc) - timedelta(hours=24)).replace(microsecond=0).isoformat()
    assert digest.send_digest(db, mail_settings, start).sent
    save(db, "later", "2025-12-01", (Claim("SUPPLIES", "Nidec", "Renault", "planned", "Nidec will supply motors to Renault.", 0.8),))
    second = digest.send_digest(db, mail_settings, start)
    assert second.sent
    later = inbox.messages()[1].get_body(("plain",)).get_content()
    assert "Nidec SUPPLIES Renault" in later and "Valeo" not in later.split("MOST MENTIONED")[0]


def test_empty_window_sends_nothing_new_unless_skip_empty(mail_settings, smtp_server):
    _controller, inbox = smtp_server
    store.open_db(mail_settings.db_path)
    skipped = send(mail_settings, "--skip-empty")
    assert skipped.exit_code == 0 and "not sent" in skipped.output and not inbox.envelopes
    assert send(mail_settings).exit_code == 0
    assert "nothing new" in inbox.messages()[0]["Subject"]


def test_credentials_come_from_the_environment(mail_settings, smtp_server):
    _controller, inbox = smtp_server
    stored_story(mail_settings)
    db = store.open_db(mail_settings.db_path)
    start = (datetime.now(timezone.utc) - timedelta(hours=24)).replace(microsecond=0).isoformat()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SUPPLYWATCH_SMTP_USER", "digest-bot")
        patch.setenv("SUPPLYWATCH_SMTP_PASSWORD", "wrong")
        with pytest.raises(UserError, match="could not send"):
            digest.send_digest(db, mail_settings, start)
        patch.setenv("SUPPLYWATCH_SMTP_PASSWORD", "s3cret")
        assert digest.send_digest(db, mail_settings, start).sent
    assert inbox.logins == [("digest-bot", "wrong"), ("digest-bot", "s3cret")]
    assert db["digests"].count == 1


def test_output_file_with_datasette_links(settings, tmp_path):
    stored_story(settings)
    linked = replace(settings, datasette_url="http://127.0.0.1:8001/")
    target = tmp_path / "digest.eml"
    result = CliRunner().invoke(cli, ["--db", settings.db_path, "--config", config_file(linked),
                                      "digest", "--since", "7d", "--output", str(target)])
    assert result.exit_code == 0, result.output
    message = email.message_from_bytes(target.read_bytes(), policy=policy.default)
    html = message.get_body(("html",)).get_content()
    assert 'href="http://127.0.0.1:8001/-/timeline/test/1"' in html
    assert store.open_db(settings.db_path)["digests"].count == 0  # a file is a preview, not a sent window


@pytest.mark.parametrize("changes, message", [
    ({"smtp_host": ""}, "no SMTP server configured"),
    ({"digest_to": ""}, "no recipients configured"),
    ({"smtp_security": "tls"}, "smtp_security must be starttls, ssl or none"),
])
def test_send_settings_are_checked_before_anything_happens(mail_settings, changes, message):
    broken = replace(mail_settings, **changes)
    result = send(broken)
    assert result.exit_code == 1 and message in result.output


# ---- TLS: STARTTLS and implicit TLS against servers with a private CA's certificate ----

@pytest.fixture(scope="module")
def authority():
    trustme = pytest.importorskip("trustme")
    return trustme.CA()


@pytest.fixture
def tls_server(request, authority, tmp_path):
    """An aiosmtpd server with a certificate for 127.0.0.1, speaking STARTTLS
    (and refusing to log in before it) or TLS from the first byte."""
    import ssl

    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(server_context)
    inbox = Inbox()
    security = request.param
    tls = {"tls_context": server_context, "require_starttls": True} if security == "starttls" else {"ssl_context": server_context}
    # aiosmtpd cannot tell that an implicit-TLS session is encrypted, so it only insists on STARTTLS
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port(), authenticator=inbox.authenticate,
                            auth_require_tls=security == "starttls", **tls)
    controller.start()
    ca_file = tmp_path / "private-ca.pem"
    authority.cert_pem.write_to_path(str(ca_file))
    yield security, controller.port, inbox, str(ca_file)
    controller.stop()


@pytest.mark.parametrize("tls_server", ["starttls", "ssl"], indirect=True)
def test_the_digest_goes_out_over_tls_with_a_login(tls_server, settings, monkeypatch):
    security, port, inbox, ca_file = tls_server
    monkeypatch.setenv("SUPPLYWATCH_SMTP_USER", "digest-bot")
    monkeypatch.setenv("SUPPLYWATCH_SMTP_PASSWORD", "s3cret")
    tls_settings = replace(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security=security,
                           smtp_ca_file=ca_file, digest_to="analyst@example.com", smtp_timeout=5.0)
    stored_story(tls_settings)
    outcome = digest.send_digest(store.open_db(tls_settings.db_path), tls_settings, "2000-01-01T00:00:00+00:00")
    assert outcome.sent
    assert inbox.logins == [("digest-bot", "s3cret")]
    assert [m["To"] for m in inbox.messages()] == ["analyst@example.com"]


@pytest.mark.parametrize("tls_server", ["starttls", "ssl"], indirect=True)
def test_a_certificate_nobody_vouches_for_is_refused_and_nothing_recorded(tls_server, settings):
    security, port, inbox, _ca_file = tls_server
    untrusted = replace(settings, smtp_host="127.0.0.1", smtp_port=port, smtp_security=security,
                        digest_to="analyst@example.com", smtp_timeout=5.0)
    stored_story(untrusted)
    db = store.open_db(untrusted.db_path)
    with pytest.raises(UserError, match="certificate verify failed"):
        digest.send_digest(db, untrusted, "2000-01-01T00:00:00+00:00")
    assert inbox.envelopes == [] and db["digests"].count == 0


def test_an_unreadable_ca_file_is_a_one_line_error(mail_settings, tmp_path):
    broken = replace(mail_settings, smtp_security="starttls", smtp_ca_file=str(tmp_path / "missing.pem"))
    stored_story(broken)
    with pytest.raises(UserError, match="cannot use smtp_ca_file"):
        digest.send_digest(store.open_db(broken.db_path), broken, "2000-01-01T00:00:00+00:00")
