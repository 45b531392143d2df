"""Aging: who owes what and how late, per customer, per invoice or per line.

Pick the level and the buckets; select a customer or an invoice to see its
lines, and a line to see the payments and credit notes allocated to it.
The as-of date and the basis (due date or invoice date) are in the sidebar.
"""

import pandas as pd
import streamlit as st

from billing import labels
from billing.aging import rollup
from ui import common, state
from ui.disputes import open_dispute_button
from ui.fmt import money_text
from ui.i18n import option_names, t
from ui.tables import money_table
from ui.text import plain

LEVELS = ["Customer", "Invoice", "Line"]
LEVEL_NAMES = {"Customer": labels.N_("Customer"), "Invoice": labels.N_("Invoice"), "Line": labels.N_("Line")}
LINE_COLUMNS = [
    "line_code",
    "invoice_no",
    "line_no",
    "customer_id",
    "currency",
    "invoice_date",
    "due_date",
    "amount",
    "allocated",
    "open",
    "days_past_due",
    "bucket",
    "in_dispute",
]
ALLOCATION_COLUMNS = ["payment_id", "payment_date", "source", "reference", "currency", "amount", "step"]


def render_controls(buckets: list[str], basis: str) -> tuple[str, list[str]]:
    st.session_state.setdefault("aging_level", LEVELS[0])
    st.session_state.setdefault("aging_buckets", list(buckets))
    with st.container(horizontal=True, vertical_alignment="bottom"):
        level = st.segmented_control(
            t("Aging per"), LEVELS, key="aging_level", required=True, persist_state="session",
            format_func=option_names(LEVELS, lambda level: t(LEVEL_NAMES[level])),
        )
        chosen = st.pills(
            t("Buckets"),
            buckets,
            selection_mode="multi",
            key="aging_buckets",
            persist_state="session",
            format_func=option_names(buckets, lambda b: labels.bucket_label(b, basis, t)),
            help=t("Show only lines in these buckets.") + " " + labels.basis_note(basis, t),
        )
    return level or LEVELS[0], [b for b in buckets if b in (chosen or [])]


def render_totals(lines: pd.DataFrame) -> None:
    totals = lines.groupby("currency", observed=True)["open"].sum()
    if len(totals):
        st.caption(t("Open in the chosen buckets: {amounts}",
                     amounts=" · ".join(money_text(int(v), str(c)) for c, v in totals.items())))


def bucket_columns(frame: pd.DataFrame, buckets: list[str], all_buckets: bool) -> list[str]:
    extra = ["unapplied", "net"] if all_buckets else []
    return ["open", *extra, *buckets, "in_dispute"]  # the totals first: in view without scrolling


def render_allocations(analysis, line: pd.Series) -> None:
    code = str(line["line_code"])
    st.markdown("**" + t("Allocations to line {code}", code=plain(code)) + "**")
    alloc = analysis.alloc.allocations
    rows = alloc[alloc["line_code"] == code]
    eff = analysis.alloc.effective_payments
    rows = rows.merge(
        eff[["payment_id", "source", "reference"]].drop_duplicates("payment_id"), on="payment_id", how="left"
    )
    money_table(
        rows[[c for c in ALLOCATION_COLUMNS if c in rows]],
        ["amount"],
        key="aging_allocations",
        empty=t("Nothing has been allocated to this line yet."),
    )
    cur = line["currency"]
    st.caption(
        t("Line amount {amount}, paid {paid}, open {open}.", amount=money_text(int(line["amount"]), cur),
          paid=money_text(int(line["allocated"]), cur), open=money_text(int(line["open"]), cur))
        + (" " + t("In open dispute: skipped by oldest-first allocation and by reminders.")
           if bool(line["in_dispute"]) else "")
    )
    open_dispute_button(analysis, [code], key="aging_dispute_line",
                        label=t("Open dispute on line {code}", code=plain(code)))


def render_lines(analysis, lines: pd.DataFrame, title: str, key: str = "aging_lines") -> None:
    st.markdown(f"**{plain(title)}**")
    lines = lines.sort_values(["days_past_due", "line_code"], ascending=[False, True])
    chosen = money_table(
        lines[LINE_COLUMNS],
        ["amount", "allocated", "open"],
        key=key,
        select=True,
        empty=t("No open lines in the chosen buckets."),
    )
    if chosen is None:
        st.caption(t("Select a line to see its allocations."))
    else:
        render_allocations(analysis, chosen)


def open_statement(customer_id: str) -> None:
    st.session_state["customer_pick"] = customer_id
    st.session_state["aging_goto_customer"] = True


def render_by_customer(analysis, lines: pd.DataFrame, buckets: list[str], all_buckets: bool, data) -> None:
    table = rollup(
        lines, ["customer_id", "currency"], analysis.alloc.unapplied if all_buckets else None, analysis.policy
    )
    table.insert(1, "name", table["customer_id"].map(state.customer_names(data)))
    money = bucket_columns(table, buckets, all_buckets)
    chosen = money_table(
        table[["customer_id", "name", "currency", *money, "lines", "oldest_days"]],
        money,
        key="aging_customers",
        select=True,
        empty=t("No customer has open lines in these buckets."),
    )
    if chosen is None:
        st.caption(t("Select a customer to see their lines."))
        return
    mine = lines[(lines["customer_id"] == chosen["customer_id"]) & (lines["currency"] == chosen["currency"])]
    name = chosen["name"] if isinstance(chosen["name"], str) else ""
    st.button(
        t("Open the statement of {customer}", customer=plain(chosen["customer_id"])),
        key="aging_open_statement",
        icon=":material/person:",
        on_click=open_statement,
        args=(str(chosen["customer_id"]),),
    )
    render_lines(analysis, mine, t("Lines of {customer} ({currency})", customer=f"{chosen['customer_id']} {name}".strip(),
                                   currency=chosen["currency"]))


def render_by_invoice(analysis, lines: pd.DataFrame, buckets: list[str]) -> None:
    table = rollup(lines, ["invoice_no", "customer_id", "currency"], None, analysis.policy)
    dates = lines.groupby("invoice_no", observed=True).agg(
        invoice_date=("invoice_date", "min"), due_date=("due_date", "min")
    )
    table = table.join(dates, on="invoice_no")
    money = bucket_columns(table, buckets, False)
    chosen = money_table(
        table[
            [
                "invoice_no",
                "customer_id",
                "currency",
                "invoice_date",
                "due_date",
                *money,
                "lines",
                "oldest_days",
            ]
        ],
        money,
        key="aging_invoices",
        select=True,
        empty=t("No invoice has open lines in these buckets."),
    )
    if chosen is None:
        st.caption(t("Select an invoice to see its lines."))
        return
    aging = analysis.aging
    codes = aging.loc[(aging["invoice_no"] == chosen["invoice_no"]).to_numpy(dtype=bool), "line_code"]
    open_dispute_button(analysis, codes.astype(str).tolist(), key="aging_dispute_invoice",
                        label=t("Open dispute on invoice {invoice}", invoice=plain(chosen["invoice_no"])),
                        help=t("Disputes the invoice's open lines that are not in dispute yet."))
    render_lines(
        analysis,
        lines[lines["invoice_no"] == chosen["invoice_no"]],
        t("Lines of invoice {invoice}", invoice=chosen["invoice_no"]),
    )


BASIS_CAPTIONS = {"due_date": labels.N_("As of {as_of}; open amounts by how long they are past their due date."),
                  "invoice_date": labels.N_("As of {as_of}; open amounts by the age of their invoice "
                                            "(overdue still means past the due date).")}
loaded = common.page_start(t("Aging"), t(BASIS_CAPTIONS[state.policy().basis]))
analysis = state.view(loaded)
all_labels = analysis.policy.bucket_labels
level, buckets = render_controls(all_labels, analysis.policy.basis)
if not buckets:
    st.info(t("Choose at least one bucket."))
    st.stop()
aging = analysis.aging
open_lines = aging[(aging["open"] != 0) & aging["bucket"].isin(buckets).to_numpy()]
render_totals(open_lines)

if st.session_state.pop("aging_goto_customer", False):
    st.switch_page("pages/customer.py")
if level == "Customer":
    render_by_customer(analysis, open_lines, buckets, len(buckets) == len(all_labels), loaded.data)
elif level == "Invoice":
    render_by_invoice(analysis, open_lines, buckets)
else:
    render_lines(analysis, open_lines, t("Open lines"))
