"""Payments & allocations: every payment (and every credit note used as one) and where it went.

A line-code lookup at the top checks the check character and explains a
typo; below, what was received and how it was applied per currency, each
payment with the step (line reference, invoice reference, FIFO) and the line
codes it paid, the unapplied cash, and the references that named nothing.
"""

import pandas as pd
import streamlit as st

from billing import labels
from billing.linecode import ALPHABET, canonical, explain, is_valid
from ui import common, exports, state
from ui.fmt import money_text
from ui.i18n import t
from ui.tables import money_table, per_currency_columns, plain_table
from ui.views import payments_table
from ui.text import plain



def near_codes(code: str, known: dict[str, str]) -> list[str]:
    """Known line codes one mistyped character or one swap of neighbours away from `code`."""
    body = canonical(code)
    found = []
    for i in range(len(body)):
        for ch in ALPHABET:
            if ch != body[i] and (cand := body[:i] + ch + body[i + 1 :]) in known:
                found.append(known[cand])
        if i + 1 < len(body) and body[i] != body[i + 1]:
            if (cand := body[:i] + body[i + 1] + body[i] + body[i + 2 :]) in known:
                found.append(known[cand])
    return sorted(set(found))


def render_lookup(loaded: state.Loaded, analysis) -> None:
    st.subheader(t("Line code lookup"))
    code = st.text_input(
        t("Line code"),
        key="payments_lookup",
        placeholder=t("e.g. {example}", example="INV-2025-000023-001K"),
        help=t("Checks the check character, then finds the line. Case and separators don't matter."),
    )
    code = (code or "").strip()
    if not code:
        return
    known = state.known_codes(loaded.key, loaded.data)
    if not is_valid(code):
        st.error(plain(explain(code)), icon=":material/error:")
        near = near_codes(code, known)
        if near:
            st.markdown(t("Did you mean {codes}?", codes=", ".join(plain(c) for c in near)))
        return
    if canonical(code) not in known:
        st.warning(plain(explain(code, set(known))), icon=":material/help:")
        return
    st.success(plain(explain(code, set(known))), icon=":material/check_circle:")
    line_code = known[canonical(code)]
    line = analysis.aging[analysis.aging["line_code"] == line_code]
    if not len(line):
        st.caption(t("The line is not in the aging as of this date (a credit note, invoiced later, "
                     "or outside the sidebar filters)."))
        return
    money_table(
        line[
            [
                "line_code",
                "invoice_no",
                "customer_id",
                "currency",
                "invoice_date",
                "due_date",
                "amount",
                "allocated",
                "open",
                "days_past_due",
                "bucket",
            ]
        ],
        ["amount", "allocated", "open"],
        key="payments_lookup_line",
    )
    alloc = analysis.alloc.allocations
    money_table(
        alloc.loc[
            alloc["line_code"] == line_code, ["payment_id", "payment_date", "currency", "amount", "step"]
        ],
        ["amount"],
        key="payments_lookup_allocations",
        empty=t("No payment has been allocated to this line."),
    )


def step_texts(steps: pd.Series) -> pd.Series:
    """ "line, fifo" (billing's step codes, as ui.views.payments_table joins them) -> their labels."""
    uniques = steps.dropna().unique()
    names = {u: ", ".join(labels.label(labels.STEPS, s.strip(), t) for s in str(u).split(",")) for u in uniques}
    return steps.map(names).astype("string")


def render_summary(alloc) -> None:
    eff = alloc.effective_payments
    parts = [
        eff[eff["source"] == "payment"].assign(measure=t("Received")),
        eff[eff["source"] == "credit_note"].assign(measure=t("Credit notes used as payment")),
        *[
            alloc.allocations[alloc.allocations["step"] == step].assign(
                measure=t("Applied: {how}", how=labels.label(labels.STEPS, step, t)))
            for step in labels.STEPS
        ],
        alloc.unapplied.assign(measure=t("Unapplied")),
    ]
    parts = [p for p in parts if len(p)]
    if not parts:  # an invoices-only import: nothing received, nothing applied
        st.info(t("No payments or credit notes in this data yet: every invoice line is open."))
        return
    long = pd.concat([p[["measure", "currency", "amount"]] for p in parts], ignore_index=True)
    table, config = per_currency_columns(long, ["measure"], "amount")
    order = [p["measure"].iloc[0] for p in parts]
    table = table.set_index("measure").reindex(order).reset_index()
    config["measure"] = st.column_config.Column(t("Figure"), pinned=True)
    st.dataframe(table, hide_index=True, column_config=config, key="payments_summary")


def render_payments(loaded: state.Loaded, analysis) -> None:
    st.subheader(t("Payments"))
    alloc, as_of = analysis.alloc, analysis.as_of
    table = state.derived(loaded, analysis, "payments", lambda a: payments_table(a.alloc))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        search = st.text_input(
            t("Find a payment"), key="payments_search", placeholder=t("payment id, customer or reference")
        )
        only_unapplied = st.toggle(t("Only with unapplied cash"), key="payments_only_unapplied")
    if search:
        text = search.strip().casefold()
        hay = (
            table["payment_id"].fillna("")
            + " "
            + table["customer_id"].fillna("")
            + " "
            + table["reference"].fillna("")
        ).str.casefold()
        table = table[hay.str.contains(text, regex=False).to_numpy(dtype=bool)]
    if only_unapplied:
        table = table[table["unapplied"] > 0]
    shown = table.assign(steps=step_texts(table["steps"]))
    chosen = money_table(
        shown,
        ["amount", "applied", "unapplied"],
        key="payments_table",
        select=True,
        empty=t("No payment matches."),
    )
    st.download_button(
        t("Download payments (XLSX)"),
        lambda: exports.xlsx_bytes(
            {"payments": table, "allocations": alloc.allocations},
            {"payments": ["amount", "applied", "unapplied"], "allocations": ["amount"]},
        ),
        file_name=f"payments_{as_of:%Y-%m-%d}.xlsx",
        mime=exports.XLSX_MIME,
        key="payments_download",
        icon=":material/download:",
        on_click="ignore",
    )
    if chosen is None:
        st.caption(t("Select a payment to see where it went."))
        return
    pid, cur = str(chosen["payment_id"]), str(chosen["currency"])
    st.markdown(t("**Where {payment} went**: {amount} received, {applied} applied, {unapplied} unapplied.",
                  payment=plain(pid), amount=money_text(int(chosen["amount"]), cur),
                  applied=money_text(int(chosen["applied"]), cur), unapplied=money_text(int(chosen["unapplied"]), cur)))
    rows = alloc.allocations[alloc.allocations["payment_id"] == pid]
    money_table(
        rows[["line_code", "currency", "amount", "step"]],
        ["amount"],
        key="payments_allocations",
        empty=t("Nothing of this payment was applied to a line."),
    )


def render_unapplied(alloc, data) -> None:
    st.subheader(t("Unapplied cash"))
    un = alloc.unapplied.assign(name=alloc.unapplied["customer_id"].map(state.customer_names(data)))
    money_table(
        un[["payment_id", "customer_id", "currency", "amount", "payment_date", "name"]],
        ["amount"],
        key="payments_unapplied",
        empty=t("All cash is applied."),
    )


def render_reference_issues(alloc) -> None:
    issues = alloc.reference_issues
    st.subheader(t("References that named nothing"))
    st.caption(t("Payment references with a wrong check character or an unknown invoice or line; nothing was "
                 "guessed from them. The suggestion is a close invoice number, never applied silently."))
    plain_table(issues, key="payments_reference_issues", empty=t("Every reference was understood."))


loaded = common.page_start(t("Payments & allocations"), t("Payments and credit notes applied as of {as_of}."))
analysis = state.view(loaded)
render_lookup(loaded, analysis)
st.subheader(t("Received and applied"))
render_summary(analysis.alloc)
render_payments(loaded, analysis)
# one below the other, full width: side by side, half-width tables cut their amounts off
render_unapplied(analysis.alloc, loaded.data)
render_reference_issues(analysis.alloc)
