"""No secret in a message, a result, the reminder log or a printed line (SPEC §9, §18): the one
redaction helper on the exact cases that leaked, and the SMS, store and CLI paths that use it."""
from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

import pytest

import cli
from connectors.redact import redact, redact_url
from connectors.sms import SmsClient, SmsConfig, SmsError
from connectors.store import Store, StoreError
from tests.connectors.test_reminders_send import free_port, sms_provider  # noqa: F401 (fixture)


@pytest.mark.parametrize("text, secret", [
    ("cannot reach the SMS provider at AC0001:UrlTok3n-SECRET@127.0.0.1:2998: [Errno 111] refused", "UrlTok3n-SECRET"),
    ("https://AC0001:UrlTok3n-SECRET@api.sms.test/2010-04-01/Messages.json", "UrlTok3n-SECRET"),
    ("could not connect to postgresql://app:p@ss@w0rd@127.0.0.1:5432/linewise", "ss@w0rd"),
    ("postgresql+psycopg://app:Tit0k:/x@db.local:5432/x?sslmode=require", "Tit0k"),
    ("'ascii' codec can't encode character '\\xf3' in position 5: ordinal not in range(128)", "\\xf3"),
    ("Authorization: Basic QUMwMDAxOlVybFRvazNuLVNFQ1JFVA==", "QUMwMDAxOlVybFRvazNuLVNFQ1JFVA"),
    ("401 Bearer eyJhbGciOiJIUzI1NiJ9.payload.sig rejected", "eyJhbGciOiJIUzI1NiJ9"),
    ("GET https://api.test/send?To=1&api_key=K3Y-123&token=T0K", "K3Y-123"),
    ("GET https://api.test/send?To=1&api_key=K3Y-123&token=T0K", "T0K"),
    ('config error: password = "hunter2"', "hunter2"),
])
def test_the_known_leaks_are_masked(text, secret):
    out = redact(text)
    assert secret not in out
    assert "***" in out or "a character" in out  # masked, or (the codec error) the character dropped


def test_known_secret_values_are_masked_in_any_form():
    secret = "jelszó ő"
    out = redact(f"failed: {quote(secret, safe='')} / {quote_plus(secret)} / {secret}", [secret])
    assert "jelsz" not in out and out.count("***") == 3
    assert redact("user AC1 token tok-SECRET sent", ["tok-SECRET"]) == "user AC1 token *** sent"


def test_what_is_not_a_secret_stays_readable():
    text = "recipient refused: kovacs@example.test: 550 5.1.1 mailbox unavailable"
    assert redact(text) == text
    assert redact("SMTP login refused for user 'ar@acme.test': 535 bad") == \
        "SMTP login refused for user 'ar@acme.test': 535 bad"
    assert redact("line one\nTraceback (most recent call last):", one_line=True) == "line one"
    assert redact_url("postgresql://app:p@ss@db:5432/x") == "postgresql://***@db:5432/x"
    assert redact_url("sqlite:////srv/data/linewise.db") == "sqlite:////srv/data/linewise.db"


def test_sms_credentials_in_the_url_are_used_for_basic_auth_and_never_shown(sms_provider):  # noqa: F811
    url = sms_provider.url.replace("http://", "http://AC0001:UrlTok3n-SECRET@")
    client = SmsClient(SmsConfig(url=url, sender="ACME"))
    assert "UrlTok3n-SECRET" not in repr(client)
    client.send("+3630555123", "hello")
    (got,) = sms_provider.received
    assert got["auth"] == "Basic " + base64.b64encode(b"AC0001:UrlTok3n-SECRET").decode()
    dead = SmsClient(SmsConfig(url=f"http://AC0001:UrlTok3n-SECRET@127.0.0.1:{free_port()}/x", sender="ACME",
                               timeout=2))
    with pytest.raises(SmsError) as exc:
        dead.send("+3630555123", "hello")
    assert "UrlTok3n" not in str(exc.value) and "AC0001" not in str(exc.value) and "cannot reach" in str(exc.value)
    sms_provider.fail = True
    with pytest.raises(SmsError) as exc:
        SmsClient(SmsConfig(url=sms_provider.url, sender="ACME", username="AC1", password="pw-SECRET")).send(
            "+3630555123", "hello pw-SECRET")
    assert "pw-SECRET" not in str(exc.value)


def test_a_postgres_password_with_a_raw_at_sign_is_neither_misread_nor_shown(capsys, monkeypatch, tmp_path):
    port = free_port()  # nothing listens: the connection is refused
    url = f"postgresql+psycopg://app:p@ss@w0rd@127.0.0.1:{port}/linewise?connect_timeout=2"
    with pytest.raises(StoreError) as exc:
        Store(url)
    text = str(exc.value)
    assert "ss@w0rd" not in text and "p@ss" not in text and f"127.0.0.1:{port}" in text
    assert "the action store" in text and "cannot be used" in text
    store = Store(url, migrate=False)
    assert store.url.host == "127.0.0.1" and store.url.password == "p@ss@w0rd"  # the last @ ends the password
    assert "w0rd" not in store.display_url and "w0rd" not in repr(store)
    # the CLI: the store's fault in plain words, no secret, not blamed on the input file
    book = tmp_path / "ar.csv"
    book.write_text("invoice_no,customer_id,invoice_date,amount\nI1,C1,2024-01-01,10.00\n", encoding="utf-8")
    monkeypatch.setenv("LINEWISE_DB_URL", url)
    code = cli.main(["remind", str(book), "--as-of", "2024-06-30", "--secrets", str(_empty_secrets(tmp_path))])
    err = capsys.readouterr().err
    assert code == 2 and "w0rd" not in err and "the action store" in err and "could not process" not in err


def _empty_secrets(tmp_path):
    p = tmp_path / "secrets.toml"
    p.write_text("", encoding="utf-8")
    return p
