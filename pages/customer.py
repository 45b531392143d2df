"""Customer: one customer's statement of account and history.

Contact and terms, what they owe per currency, the statement (open lines,
payments and where they went, credit notes, aging) downloadable as XLSX,
and their open balance at past month ends.
"""

import pandas as pd
import streamlit as st

from billing.aging import is_credit_note, month_ends
from ui.charts import CHART_CONFIG
from ui import charts, collections_view, common, state, statements_view
from ui import disputes as disputes_ui
from ui.fmt import money_text
from ui.i18n import t
from ui.tables import money_table
from ui.text import plain
from ui.views import payments_table

HISTORY_MONTHS = 12
OPEN_LINE_COLUMNS = [
    "line_code",
    "invoice_no",
    "line_no",
    "invoice_date",
    "due_date",
    "currency",
    "amount",
    "allocated",
    "open",
    "days_past_due",
    "bucket",
    "in_dispute",
]
CREDIT_COLUMNS = [
    "line_code",
    "invoice_no",
    "invoice_date",
    "currency",
    "amount",
    "applies_to",
    "description",
]


def customer_options(data, analysis) -> list[str]:
    ids = set(data.customers["customer_id"].dropna().astype(str)) | set(
        analysis.aging["customer_id"].dropna()
    )
    keep = state.selected_customers(data)
    return sorted(ids if keep is None else ids & keep)


PICK = "customer_pick"  # session_state: the customer opened from a list (here, Overview or Aging)
LIST_COLUMNS = ["customer_id", "name", "currency", "open", "overdue", "oldest_days"]


def pick_customer(options: list[str], names: pd.Series, analysis) -> str | None:
    """The customer to show: the one chosen in the sidebar, else the one opened from a list
    (?customer=, Overview, Aging, the list below); None after drawing the list to choose from."""
    chosen = [c for c in state.filters().customers if c in options]
    if len(chosen) == 1:
        st.session_state.pop(PICK, None)
        st.caption(t("Chosen in the sidebar."))
        return chosen[0]
    wanted = st.query_params.get("customer")
    if wanted in options:
        st.session_state[PICK] = wanted
    if st.session_state.get(PICK) in options:
        st.button(t("All customers"), key="customer_back", icon=":material/arrow_back:",
                  on_click=lambda: st.session_state.pop(PICK, None))
        return st.session_state[PICK]
    st.session_state.pop(PICK, None)
    render_customer_list(options, names, analysis)
    return None


def render_customer_list(options: list[str], names: pd.Series, analysis) -> None:
    """Customers with something open (those of the sidebar filters), most overdue first; the table
    sorts on any column, and selecting a row opens that customer's statement."""
    rows = analysis.by_customer[analysis.by_customer["customer_id"].isin(options).to_numpy(dtype=bool)]
    rows = rows.assign(name=rows["customer_id"].map(names).astype("string").fillna(""))
    rows = rows.sort_values(["overdue", "open", "customer_id"], ascending=[False, False, True])[LIST_COLUMNS]
    st.caption(t("Choose a customer: select a row (click a header to sort)."))
    picked = money_table(rows, ["open", "overdue"], key="customer_list", select=True,
                         empty=t("No customer has anything open."))
    if picked is not None:
        st.session_state[PICK] = str(picked["customer_id"])
        st.rerun()


def render_profile(row: pd.Series | None) -> None:
    if row is None:
        st.caption(t("Not in the customers table."))
        return
    facts = []
    for column, title in (
        ("email", t("E-mail")),
        ("phone", t("Phone")),
        ("segment", t("Segment")),
        ("owner", t("Owner")),
        ("language", t("Language")),
        ("payment_terms_days", t("Terms (days)")),
    ):
        value = row.get(column)
        if value is not None and not pd.isna(value):
            facts.append(f"**{title}:** {plain(value)}")
    limit, cur = row.get("credit_limit"), row.get("currency")
    if limit is not None and not pd.isna(limit) and isinstance(cur, str):
        facts.append(f"**{t('Credit limit')}:** {money_text(int(limit), cur)}")
    if bool(row.get("dunning_blocked", False)):
        facts.append(f":orange-badge[{t('Reminders blocked')}]")
    st.markdown(" · ".join(facts) or t("No contact details."))


def render_balances(aging_row: pd.DataFrame, buckets: list[str]) -> None:
    for _, r in aging_row.iterrows():
        cur = str(r["currency"])
        cols = [*st.columns(2), *st.columns(2)]  # four in a row cut long amounts ("HUF 1,486,…")
        cols[0].metric(t("Open ({currency})", currency=plain(cur)), money_text(int(r["open"]), cur), border=True)
        cols[1].metric(t("Overdue ({currency})", currency=plain(cur)), money_text(int(r["overdue"]), cur),
                       border=True, help=t("Open amount past its due date."))
        cols[2].metric(t("Unapplied ({currency})", currency=plain(cur)), money_text(int(-r["unapplied"]), cur),
                       border=True)
        cols[3].metric(t("In dispute ({currency})", currency=plain(cur)), money_text(int(r["in_dispute"]), cur),
                       border=True)


def statement(cid: str, analysis, data, payments: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The statement of account as tables (minor units): open lines, payments, credit notes, aging."""
    aging = analysis.aging
    lines = aging[(aging["customer_id"] == cid) & (aging["open"] != 0)]
    lines = lines.sort_values(["due_date", "invoice_no", "line_no"])[OPEN_LINE_COLUMNS]
    pays = payments[payments["customer_id"] == cid]
    inv = data.invoices
    credits = inv[(inv["customer_id"] == cid) & is_credit_note(inv) & (inv["invoice_date"] <= analysis.as_of)]
    credits = credits[[c for c in CREDIT_COLUMNS if c in credits]].sort_values("invoice_date")
    roll = analysis.by_customer[analysis.by_customer["customer_id"] == cid]
    return {"open_lines": lines, "payments": pays, "credit_notes": credits, "aging": roll}


def render_statement(tables: dict[str, pd.DataFrame], buckets: list[str]) -> None:
    t_open, t_pay, t_credit, t_aging = st.tabs(
        [
            t("Open lines ({n})", n=len(tables["open_lines"])),
            t("Payments ({n})", n=len(tables["payments"])),
            t("Credit notes ({n})", n=len(tables["credit_notes"])),
            t("Aging"),
        ]
    )
    with t_open:
        money_table(
            tables["open_lines"],
            ["amount", "allocated", "open"],
            key="customer_open_lines",
            empty=t("Nothing open."),
        )
    with t_pay:
        money_table(
            tables["payments"],
            ["amount", "applied", "unapplied"],
            key="customer_payments",
            empty=t("No payments as of this date."),
        )
    with t_credit:
        money_table(tables["credit_notes"], ["amount"], key="customer_credit_notes", empty=t("No credit notes."))
    with t_aging:
        money = [*buckets, "open", "unapplied", "net", "in_dispute"]
        money_table(
            tables["aging"][["currency", *money, "lines", "oldest_days"]],
            money,
            key="customer_aging",
            empty=t("Nothing open."),
        )


def render_history(loaded: state.Loaded, cid: str, as_of: pd.Timestamp, buckets: list[str]) -> None:
    st.subheader(t("History"))
    dates = tuple(month_ends(as_of - pd.DateOffset(months=HISTORY_MONTHS), as_of, include_end=True))
    history = state.history_for(loaded.key, dates, state.policy().model_dump_json(), loaded.data, (cid,))
    currencies = sorted(history.loc[history["open"] != 0, "currency"].astype(str).unique())
    if not currencies:
        st.caption(t("No open balance at any of the last month ends."))
        return
    for cur in currencies:
        st.plotly_chart(charts.balance_history(history, cur, buckets), config=CHART_CONFIG,
                        key=f"customer_history_{cur}")
    st.caption(t("Open balance at each month end, rebuilt from the same data as of that date."))


loaded = common.page_start(t("Customer"), t("Statement of account as of {as_of}."))
analysis = state.view(loaded)
buckets = analysis.policy.bucket_labels
names = state.customer_names(loaded.data)
cid = pick_customer(customer_options(loaded.data, analysis), names, analysis)
if cid is None:
    st.stop()

name = str(names.get(cid, "")) if cid in names else ""
st.header(plain(f"{cid} · {name}" if name else cid), anchor=False)
cust = loaded.data.customers
match = cust[cust["customer_id"] == cid]
render_profile(match.iloc[0] if len(match) else None)
payments = state.derived(loaded, analysis, "payments", lambda a: payments_table(a.alloc))
tables = statement(cid, analysis, loaded.data, payments)
render_balances(tables["aging"], buckets)

st.subheader(t("Statement of account"))
render_statement(tables, buckets)
statements_view.render_downloads(cid, loaded.data, analysis)
render_history(loaded, cid, analysis.as_of, buckets)
collections_view.customer_section(cid, loaded, analysis)
disputes_ui.customer_section(cid, analysis)

from ui.reminders_view import render_customer_reminders  # noqa: E402

render_customer_reminders(cid)
