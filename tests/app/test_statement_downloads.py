"""Customer page: the statement downloads (PDF and XLSX) with their options, on the demo data."""
from __future__ import annotations

from tests.app.test_pages import ok, start


def _downloads(at) -> dict[str, object]:
    return {el.proto.label: el for el in at.get("download_button")}


def test_customer_page_offers_the_statement_as_pdf_and_xlsx():
    at = ok(start("customer"))
    cid = at.dataframe(key="customer_list").value.iloc[0]["customer_id"]
    at.session_state["customer_pick"] = cid
    at.run()
    ok(at)
    labels = _downloads(at)
    assert {"Download statement (PDF)", "Download statement (XLSX)"} <= set(labels)
    assert labels["Download statement (PDF)"].proto.url or labels["Download statement (PDF)"].proto.deferred_file_id
    at.toggle(key="statement_only_open").set_value(True).run()
    ok(at)
    assert {"Download statement (PDF)", "Download statement (XLSX)"} <= set(_downloads(at))
