import sqlite3
from pipeline import store
from pipeline.records import Article, Claim, Extraction, FeedResult, Mention


def _article(url="http://news.test/a", text="Valeo supplies Renault with motors.", published="2025-01-02"):
    from pipeline.extract import canonical_url, content_hash

    return Article(url=url, canonical_url=canonical_url(url), text=text, content_hash=content_hash(text),
                   source="page", title="t", published_at=published, fetched_at="2025-01-03T00:00:00+00:00")


def _extraction(status="active"):
    return Extraction(
        mentions=(Mention("Valeo", "ORG", 0, 5, "Valeo"), Mention("Renault", "ORG", 15, 22, "Renault")),
        claims=(
            Claim("SUPPLIES", "Valeo", "Renault", status, "Valeo supplies Renault with motors.", 0.8, component="motors"),
            Claim("PARTNERS_WITH", "Valeo", "Renault", status, "Valeo supplies Renault with motors.", 0.6),
        ),
    )


def test_migrations_create_schema_from_blank_database(tmp_path):
    db = store.open_db(tmp_path / "blank.db")
    tables = set(db.table_names())
    assert {"feeds", "articles", "entities", "aliases", "mentions", "claims", "claim_evidence", "articles_fts",
            "claim_changes", "digests", "pending_entries"} <= tables
    assert "current_claims" in db.view_names()
    assert [m.name for m in store.migrations.applied(db)] == ["m001_initial", "m002_claim_changes", "m003_digests", "m004_scheduling", "m005_claim_labels", "m006_switches_per_end"]
    assert {fk.other_table for fk in db["claim_changes"].foreign_keys} == {"claims", "articles"}
    assert {fk.other_table for fk in db["claim_evidence"].foreign_keys} == {"claims", "articles"}
    db.close()
    again = store.open_db(tmp_path / "blank.db")  # re-opening applies nothing twice
    assert len(store.migrations.applied(again)) == 6


def test_missing_database_folder_is_a_user_error(tmp_path):
    import pytest

    from pipeline.errors import UserError

    with pytest.raises(UserError, match="does not exist"):
        store.open_db(tmp_path / "nope" / "x.db")


def test_save_article_is_idempotent_and_symmetric(tmp_path):
    db = store.open_db(tmp_path / "s.db")
    first = store.save_article(db, _article(), _extraction())
    assert not first.duplicate and first.new_claims == 2
    again = store.save_article(db, _article(), _extraction())
    assert again.duplicate and again.article_id == first.article_id
    same_text_other_url = store.save_article(db, _article(url="http://mirror.test/b"), _extraction())
    assert same_text_other_url.duplicate
    assert db["articles"].count == 1 and db["claim_evidence"].count == 2 and db["mentions"].count == 2
    # the partnership read the other way round is the same claim
    reverse = Extraction(claims=(Claim("PARTNERS_WITH", "Renault", "Valeo", "ended", "Renault ended it.", 0.7),))
    result = store.save_article(db, _article(url="http://news.test/c", text="Renault ended it.", published="2025-06-01"), reverse)
    assert result.new_claims == 0
    rows = {(r["relation"], r["subject"], r["object"]): r for r in store.current_claims(db)}
    partnership = rows[("PARTNERS_WITH", "Renault", "Valeo")] if ("PARTNERS_WITH", "Renault", "Valeo") in rows else rows[("PARTNERS_WITH", "Valeo", "Renault")]
    assert partnership["status"] == "ended" and partnership["evidence_count"] == 2


def test_failed_write_rolls_back_the_whole_article(tmp_path):
    import pytest

    db = store.open_db(tmp_path / "r.db")
    bad = Extraction(claims=(Claim("SUPPLIES", "Valeo", "Renault", None, "x", 0.5),))  # status NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        store.save_article(db, _article(), bad)
    assert db["articles"].count == 0 and db["entities"].count == 0


def test_record_poll_counts_errors_and_keeps_validators(tmp_path):
    db = store.open_db(tmp_path / "f.db")
    feed, created = store.add_feed(db, "http://127.0.0.1:1/feed.xml", "f")
    assert created and store.add_feed(db, feed.url)[1] is False
    store.record_poll(db, FeedResult(feed, "failed", error="HTTP 500"))
    store.record_poll(db, FeedResult(store.find_feed(db, feed.url), "failed", error="HTTP 502"))
    failing = store.find_feed(db, feed.url)
    assert failing.error_count == 2 and failing.last_error == "HTTP 502"
    store.record_poll(db, FeedResult(failing, "ok", etag='"e1"', last_modified="Mon, 01 Jan 2024 00:00:00 GMT"))
    healthy = store.find_feed(db, str(feed.id))
    assert (healthy.error_count, healthy.etag, healthy.last_error) == (0, '"e1"', None)


def test_removing_a_feed_keeps_its_articles(tmp_path):
    db = store.open_db(tmp_path / "k.db")
    feed, _ = store.add_feed(db, "http://127.0.0.1:1/feed.xml")
    article = _article()
    from dataclasses import replace

    store.save_article(db, replace(article, feed_id=feed.id), _extraction())
    store.remove_feed(db, feed.url)
    assert db["feeds"].count == 0 and db["articles"].count == 1
