"""Builders for the loopback news sites the tests serve: RSS, article HTML
and a few realistic automotive-news passages written for the tests."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime


def rss(items: list[dict], title: str = "Test feed") -> bytes:
    """An RSS 2.0 document; each item has link, title and optional date, description."""
    parts = []
    for item in items:
        date = item.get("date")
        pub = f"<pubDate>{format_datetime(datetime.fromisoformat(date).replace(tzinfo=timezone.utc))}</pubDate>" if date else ""
        parts.append(
            f"<item><title>{item['title']}</title><link>{item['link']}</link>"
            f"<guid>{item['link']}</guid>{pub}<description>{item.get('description', '')}</description></item>"
        )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
        f"<link>http://example.invalid/</link><description>test</description>{''.join(parts)}</channel></rss>"
    ).encode()


def article_html(title: str, paragraphs: list[str], date: str | None = None) -> str:
    meta = f'<meta property="article:published_time" content="{date}">' if date else ""
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    return (
        f"<!DOCTYPE html><html><head><title>{title}</title>{meta}"
        f'<meta property="og:site_name" content="Test Auto News"></head>'
        f"<body><nav>Home | Sections</nav><article><h1>{title}</h1>{body}</article>"
        f"<footer>Copyright</footer></body></html>"
    )


PARTNERSHIP_ARTICLE = [
    "Stellantis and CATL announced a joint venture on Tuesday to build a lithium iron phosphate battery plant in Spain, "
    "the companies said in a statement.",
    "The plant in Zaragoza will start production by the end of 2026, and CATL will supply battery cells to Stellantis "
    "for its smaller electric cars sold in Europe.",
    "Separately, Ford ended its partnership with Rivian on a shared electric van platform, a spokesperson confirmed.",
]

SUPPLY_ARTICLE = [
    "Bosch will supply electric axles to Volvo Cars from 2027 under a contract announced this week, the German "
    "supplier said, adding that the components would be made at its plant in Hungary.",
    "Volvo Cars already buys power electronics from Infineon, and the carmaker is in talks to source battery cells "
    "from a Chinese supplier for its next generation of compact models.",
]
