"""supplywatch: automotive news feeds in, supply and partnership claims out, kept in SQLite."""

__version__ = "0.1.0"
