"""nemlive.store.url (pure): no secret of a store URL in its display, its viewer text or a
scrubbed driver message, whatever form the secret takes."""

from __future__ import annotations

import pytest

from nemlive.common.errors import ConfigError
from nemlive.store import parse_store_url, scrub

SECRET = "Zq81-s3cret"  # distinctive, so a leak is easy to find


@pytest.mark.parametrize(
    ("text", "display", "for_viewers"),
    [
        (
            f"postgresql://nem:{SECRET}@db.example:5432/nem",
            "postgresql://nem:***@db.example:5432/nem",
            "PostgreSQL on db.example:5432",
        ),
        (
            f"postgresql://nem@db.example/nem?password={SECRET}&sslmode=require",
            "postgresql://nem@db.example/nem?password=***&sslmode=require",
            "PostgreSQL on db.example",
        ),
        (
            f"postgresql://nem@db.example/nem?sslpassword={SECRET}&passfile=/home/nem/.pgpass",
            "postgresql://nem@db.example/nem?sslpassword=***&passfile=/home/nem/.pgpass",
            "PostgreSQL on db.example",
        ),
        (
            f"postgresql://nem@db.example/nem?PASSWORD={SECRET}&auth_token={SECRET}x"
            f"&client_secret={SECRET}y",
            "postgresql://nem@db.example/nem?PASSWORD=***&auth_token=***&client_secret=***",
            "PostgreSQL on db.example",
        ),
        (
            "postgres://nem:Zq81%40s3cret%2F@db/nem",
            "postgresql://nem:***@db/nem",
            "PostgreSQL on db",
        ),
        (
            f"postgresql://nem@/nem?host=/run/postgresql&port=5433&password={SECRET}",
            "postgresql://nem@/nem?host=/run/postgresql&port=5433&password=***",
            "PostgreSQL on /run/postgresql:5433",
        ),
        (
            f"postgresql://nem:{SECRET}@h1:5432,h2:5433/nem",
            "postgresql://nem:***@h1:5432,h2:5433/nem",
            "PostgreSQL on h1:5432,h2:5433",
        ),
        ("sqlite:////var/lib/nemlive/history.db", None, "SQLite file history.db"),
        ("sqlite:///:memory:", None, "SQLite in memory"),
    ],
    ids=[
        "userinfo",
        "query-password",
        "query-sslpassword",
        "query-any-secret-name",
        "url-quoted",
        "host-in-query",
        "two-hosts",
        "sqlite-base-name",
        "sqlite-memory",
    ],
)
def test_display_and_viewer_text_hold_no_secret(
    text: str, display: str | None, for_viewers: str
) -> None:
    url = parse_store_url(text)
    assert url.display == (display or text)
    assert url.for_viewers == for_viewers
    for shown in (url.display, str(url), repr(url), url.for_viewers):
        assert "s3cret" not in shown and "s3cret" not in shown.replace("%40", "@")


def test_the_viewer_text_names_no_user_query_or_folder() -> None:
    url = parse_store_url(f"postgresql://nem-writer:{SECRET}@db.example:5432/nem?sslmode=require")
    assert "nem-writer" not in url.for_viewers and "sslmode" not in url.for_viewers
    assert "/var/lib" not in parse_store_url("sqlite:////var/lib/x.db").for_viewers


@pytest.mark.parametrize(
    ("text", "driver_message"),
    [
        (f"postgresql://nem:{SECRET}@db/nem", f'invalid percent-encoded token: "{SECRET}"'),
        ("postgresql://nem:Zq81%40s3cret@db/nem", "authentication failed for Zq81@s3cret"),
        ("postgresql://nem:Zq81!s3cret@db/nem", 'invalid token: "Zq81%21s3cret"'),
        ("postgresql://nem:Zq81%zzs3cret@db/nem", 'invalid percent-encoded token: "Zq81%zzs3cret"'),
        (f"postgresql://nem@db/nem?sslpassword={SECRET}", f"could not decrypt key {SECRET}"),
        (
            f"postgresql://nem@db/nem?password={SECRET}",
            f"in postgresql://nem@db/nem?password={SECRET}",
        ),
    ],
    ids=["as-written", "decoded", "re-quoted", "bad-escape", "sslpassword", "echoed-url"],
)
def test_scrub_removes_the_url_secrets_from_a_driver_message(
    text: str, driver_message: str
) -> None:
    scrubbed = parse_store_url(text).scrub(driver_message)
    assert "s3cret" not in scrubbed and "***" in scrubbed


@pytest.mark.parametrize(
    "message",
    [
        f"host=db.example port=5432 dbname=nem user=nem password={SECRET} sslmode=require",
        f"host=db password = '{SECRET} with\\' spaces' dbname=nem",
        f"connect(postgresql://nem:{SECRET}@db.example/nem)",
        f"postgresql://nem@db.example/nem?x=1&password={SECRET}&y=2",
        f"dbname=nem sslpassword={SECRET}",
    ],
    ids=["conninfo", "conninfo-quoted", "url-userinfo", "url-query", "sslpassword"],
)
def test_scrub_masks_password_like_values_it_was_not_told(message: str) -> None:
    # libpq's keyword form is refused by parse_store_url, but a driver may still echo it.
    scrubbed = scrub(message, None)
    assert "s3cret" not in scrubbed and "spaces" not in scrubbed
    assert "db" in scrubbed  # the rest stays readable


def test_a_password_that_is_part_of_the_host_name_leaves_the_host_whole() -> None:
    # Masking "db" inside "db.example" would show which part of the host the password is.
    url = parse_store_url("postgresql://nem:db@db.example:5432/nem")
    assert url.display == "postgresql://nem:***@db.example:5432/nem"
    assert url.for_viewers == "PostgreSQL on db.example:5432"
    message = 'could not translate host name "db.example": postgresql://nem:db@db.example/nem'
    assert url.scrub(message) == (
        'could not translate host name "db.example": postgresql://nem:***@db.example/nem'
    )
    # Anywhere else the password is masked, even in a word.
    assert url.scrub("user nem, password db, dbname nem") == "user nem, password ***, ***name nem"


@pytest.mark.parametrize(
    "text",
    [
        f"host=db.example dbname=nem user=nem password={SECRET}",
        f"nem:{SECRET}@db.example://nem",
        f"postgresql://nem:{SECRET}@[db/nem",
    ],
    ids=["libpq-keywords", "junk-scheme", "bad-netloc"],
)
def test_a_refused_url_is_not_repeated(text: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_store_url(text, "NEMLIVE_STORE")
    message = str(info.value)
    assert message.startswith("NEMLIVE_STORE ") and "s3cret" not in message
