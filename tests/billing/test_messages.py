"""billing.messages with the shipped templates: languages, locale formatting, escaping, fallback."""
from __future__ import annotations

from datetime import date

import pytest
from jinja2 import TemplateError

from billing.dunning import DunningPolicy, Reminder, ReminderLine
from billing.messages import MessageRenderer, TemplateMissing, format_money, render_reminder, resolve_locale
from connectors.templates import load_templates

TEMPLATES = load_templates()
LEVELS = [lv.name for lv in DunningPolicy().levels]


def ln(code: str, open_: int, currency: str = "USD", dpd: int = 17, level: str | None = "first") -> ReminderLine:
    return ReminderLine(line_code=code, invoice_no=code.rsplit("-", 1)[0], line_no=1, currency=currency,
                        invoice_date=date(2024, 5, 1), due_date=date(2024, 6, 13), amount=open_ + 1000,
                        open=open_, days_past_due=dpd, level=level)


def reminder(language: str | None = "en", level: str = "first", name: str = "Acme Ltd", lines=None,
             statement=()) -> Reminder:
    lines = lines or (ln("INV-7-001X", 123450), ln("INV-8-002Y", 50))
    return Reminder(customer_id="C1", name=name, language=language, email="ar@acme.test", phone=None,
                    level=level, channels=("email",), lines=tuple(lines), statement=tuple(statement),
                    as_of=date(2024, 6, 30), level_order=tuple(LEVELS))


RENDERER = MessageRenderer(TEMPLATES, company="Linewise Demo Co")


@pytest.mark.parametrize("lang", ["en", "zh", "hu"])
@pytest.mark.parametrize("level", LEVELS)
def test_every_shipped_template_renders_every_part(lang, level):
    m = RENDERER.render(reminder(lang, level), attachment=True)
    assert m.language == lang
    for part in (m.subject, m.text, m.html, m.sms):
        assert part.strip()
    for code in ("INV-7-001X", "INV-8-002Y"):
        assert code in m.text and code in m.html and code in m.sms
    assert "\n" not in m.subject and len(m.sms) <= 200
    assert m.html.lstrip().startswith("<!DOCTYPE html>") and f'lang="{lang}"' in m.html


def test_english_amounts_dates_total_and_days():
    m = RENDERER.render(reminder("en"))
    assert m.subject == "Payment reminder from Linewise Demo Co: $1,235.00 overdue"
    assert "$1,234.50" in m.text and "$0.50" in m.text and "Jun 13, 2024" in m.text
    assert "Total due: $1,235.00" in m.text and "17 days overdue" in m.text
    assert "<td align=\"right\">$1,234.50</td>" in m.html and "Dear Acme Ltd," in m.html
    assert m.totals == ("$1,235.00",)


def test_chinese_and_hungarian_are_in_their_language_and_locale():
    zh = RENDERER.render(reminder("zh"))
    assert "付款提醒" in zh.subject and "尊敬的 Acme Ltd：" in zh.text
    assert "US$1,234.50" in zh.text and "2024年6月13日" in zh.text and "逾期 17 天" in zh.text
    hu = RENDERER.render(reminder("hu", lines=(ln("INV-7-001X", 123450, "HUF"),)))
    assert "Fizetési emlékeztető" in hu.subject and "Tisztelt Acme Ltd!" in hu.text
    money = format_money(123450, "HUF", "hu")
    assert money.replace("\xa0", " ").replace("\u202f", " ") == "1 234,50 Ft"
    assert money in hu.text and "2024. jún. 13." in hu.text
    assert f"Fizetendő összesen: {money}" in hu.text


def test_html_escapes_what_the_customer_data_holds_text_does_not():
    evil = '<script>alert("x")</script> & Sons'
    m = RENDERER.render(reminder("en", name=evil, lines=(ln("INV-<b>-001X", 100),)))
    assert "<script>" not in m.html and "&lt;script&gt;" in m.html and "&amp; Sons" in m.html
    assert "INV-&lt;b&gt;-001X" in m.html and "<b>" not in m.html
    assert f"Dear {evil}," in m.text
    mine = dict(TEMPLATES)
    mine["en/first.jinja"] = ("{% extends layout %}{% block subject %}s{% endblock %}{% block intro %}"
                              "Hello {{ customer.name }}\n\nAgain{% endblock %}{% block sms %}x{% endblock %}")
    m = render_reminder(reminder("en", name="A & <B>"), mine)
    assert "<p>Hello A &amp; &lt;B&gt;</p>\n<p>Again</p>" in m.html  # escaped once, paragraphs kept
    assert "Hello A & <B>\n\nAgain" in m.text


def test_unknown_or_missing_language_falls_back_to_english_and_variants_resolve():
    assert RENDERER.render(reminder("de")).language == "en"
    assert RENDERER.render(reminder(None)).language == "en"
    zh = RENDERER.render(reminder("zh-CN"))
    assert zh.language == "zh" and zh.locale.startswith("zh")
    assert RENDERER.render(reminder("HU")).language == "hu"
    assert RENDERER.render(reminder("magyar")).language == "hu"
    assert str(resolve_locale("xx-nonsense")) == "en"
    de_default = MessageRenderer(TEMPLATES, default_language="hu").render(reminder("de"))
    assert de_default.language == "hu"


def test_several_currencies_have_one_total_each():
    m = RENDERER.render(reminder("en", lines=(ln("A-1-001X", 1000), ln("B-1-001Y", 500, "EUR"),
                                              ln("C-1-001Z", 700, "JPY"))))
    assert m.totals == ("€5.00", "¥700", "$10.00")
    assert "Total due: €5.00 + ¥700 + $10.00" in m.text


def test_statement_lines_and_attachment_note():
    m = RENDERER.render(reminder("en", statement=(ln("OLD-1-001Q", 9900, level=None, dpd=3),)), attachment=True)
    assert "Other open items on your account" in m.text and "OLD-1-001Q" in m.text
    assert "Total open on your account: $1,334.00" in m.text
    assert "Your statement of account is attached." in m.text and "attached" in m.html
    plain = RENDERER.render(reminder("en"))
    assert "Other open items" not in plain.text and "attached" not in plain.text


def test_sms_lists_only_the_first_codes():
    lines = tuple(ln(f"INV-{i}-001X", 100) for i in range(5))
    m = RENDERER.render(reminder("en", lines=lines))
    assert "INV-0-001X, INV-1-001X, INV-2-001X (+2)" in m.sms and "INV-4-001X" not in m.sms


def test_edited_templates_are_used_and_errors_name_the_file():
    mine = dict(TEMPLATES)
    mine["en/first.jinja"] = ('{% extends layout %}{% block subject %}Pay {{ total }}, {{ customer.name }}'
                              '{% endblock %}{% block sms %}Pay now{% endblock %}')
    m = render_reminder(reminder("en"), mine)
    assert m.subject == "Pay $1,235.00, Acme Ltd" and m.sms == "Pay now" and "INV-7-001X" in m.text
    mine["en/first.jinja"] = "{% extends layout %}{% block subject %}{{ totl }}{% endblock %}{% block sms %}x{% endblock %}"
    with pytest.raises(TemplateError, match="en/first.jinja.*totl"):
        render_reminder(reminder("en"), mine)
    mine["en/first.jinja"] = "{% extends layout %}{% block subject %}x{% endblock %}"
    with pytest.raises(TemplateMissing, match="block sms"):
        render_reminder(reminder("en"), mine)
    with pytest.raises(TemplateMissing, match="nolevel"):
        render_reminder(reminder("en", level="nolevel"), TEMPLATES)


def test_templates_run_in_a_sandbox():
    mine = dict(TEMPLATES)
    mine["en/first.jinja"] = ("{% extends layout %}{% block subject %}{{ ''.__class__.__mro__[1].__subclasses__() }}"
                              "{% endblock %}{% block sms %}x{% endblock %}")
    with pytest.raises(TemplateError):
        render_reminder(reminder("en"), mine)


def test_subject_cannot_carry_header_line_breaks():
    m = render_reminder(reminder("en"), TEMPLATES, company="Evil\r\nBcc: victim@example.com")
    assert "\r" not in m.subject and "\n" not in m.subject


# --------------------------------------------------------------------------- who signs, the text layout, SMS length


@pytest.mark.parametrize("lang, sender", [("en", "Accounts Receivable"), ("zh", "财务部"), ("hu", "Pénzügyi osztály")])
def test_without_a_company_name_each_language_signs_and_titles_in_its_own_words(lang, sender):
    m = MessageRenderer(TEMPLATES).render(reminder(lang))
    assert sender in m.subject and m.text.rstrip().endswith(sender) and sender in m.html and sender in m.sms
    if lang != "en":
        assert "Accounts Receivable" not in m.subject + m.text + m.html + m.sms


def test_a_configured_name_signs_in_every_language():
    from billing.company import CompanyDetails
    from connectors.reminders import make_renderer

    for lang in ("zh", "hu"):
        named = make_renderer(company=CompanyDetails(name="ACME Kft.")).render(reminder(lang))
        assert "ACME Kft." in named.subject and named.text.rstrip().endswith("ACME Kft.")
        unnamed = make_renderer(company=CompanyDetails(iban="DE89370400440532013000")).render(reminder(lang))
        assert "Accounts Receivable" not in unnamed.subject + unnamed.text
    policy_named = make_renderer(DunningPolicy(company_name="AR Team"), company=CompanyDetails(name="ACME Kft."))
    assert "AR Team" in policy_named.render(reminder("hu")).subject


@pytest.mark.parametrize("lang", ["en", "zh", "hu"])
@pytest.mark.parametrize("level", LEVELS)
def test_the_plain_text_email_has_a_blank_line_after_the_greeting(lang, level):
    lines = RENDERER.render(reminder(lang, level)).text.split("\n")
    assert "Acme Ltd" in lines[0] and lines[1] == "" and lines[2].strip()


def test_sms_segments_count_gsm_septets_and_switch_to_ucs2_for_one_character_outside_gsm():
    from billing.messages import sms_count, sms_note

    assert sms_count("a" * 160) == (sms_count("a" * 160).__class__(160, "GSM-7", 1))
    assert (sms_count("a" * 161).segments, sms_count("a" * 306).segments, sms_count("a" * 307).segments) == (2, 2, 3)
    assert sms_count("é" * 160).encoding == "GSM-7"  # é is in the GSM alphabet, ő is not
    text = "Fizetési emlékeztető" + "x" * 91  # 111 characters, one ő
    assert (sms_count(text).characters, sms_count(text).encoding, sms_count(text).segments) == (111, "UCS-2", 2)
    assert (sms_count("ő" * 70).segments, sms_count("ő" * 71).segments, sms_count("ő" * 134).segments,
            sms_count("ő" * 135).segments) == (1, 2, 2, 3)
    assert sms_count("€" * 80).segments == 1 and sms_count("€" * 81).segments == 2  # € takes two septets
    assert sms_count("x" * 152 + "€" + "x" * 6).segments == 1  # 160 septets
    assert sms_count("x" * 152 + "€" + "x" * 151).segments == 2  # 152 | 2 + 151
    assert sms_count("x" * 152 + "€" + "x" * 152).segments == 3  # 306 septets, but the pair is never split
    assert sms_count("付款提醒" * 10).encoding == "UCS-2" and sms_count("😀" * 35).segments == 1
    assert sms_count("😀" * 36).segments == 2 and sms_count("").segments == 0
    assert sms_note(text).startswith("111 characters · 2 SMS (Unicode")
    assert sms_note("Pay INV-1 please") == "16 characters · 1 SMS."
