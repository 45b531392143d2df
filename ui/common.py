"""What every page starts with: its title, the demo banner, and the data it needs (or a way to get it)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from ui import state
from ui import i18n
from ui.i18n import t
from ui.text import plain

DATA_PAGE = "pages/data.py"


FRAMED = "nav_framed"  # session_state: set by app.py just before it runs the page


def mark_framed() -> None:
    """app.py: the page about to run is inside the app's navigation and sidebar."""
    st.session_state[FRAMED] = True


def ensure_app_navigation() -> None:
    """Make sure this page runs inside the app's frame (navigation and sidebar).

    Because the pages live in `pages/`, a fresh server starts in Streamlit's
    legacy folder mode and runs a deep-linked page file (a first visit to
    /aging) on its own, until some session has called st.navigation
    ("as soon as any session of your app executes the st.navigation command,
    your app will ignore the pages/ directory", st.navigation's docs). A page
    that finds it was not started by app.py makes that public call itself and
    reruns: the rerun goes through app.py, on the same page. It happens once
    per server process, on a page load (nothing the user did is lost). The
    sign-in gate runs first, so nothing is shown to a visitor it stops.
    """
    if st.session_state.pop(FRAMED, False):
        return
    from ui import auth
    from ui.navigation import pages

    auth.gate()  # before anything else: a visitor who may not see the data stops here
    # Admin included, so a deep link to it stays there; app.py's frame then decides (Admin only
    # for admins).
    st.navigation(pages(admin=True), position="hidden")
    st.rerun()


def page_start(title: str, caption: str | None = None) -> state.Loaded:
    """Title, demo banner; stops the page with a way out when there is no usable data."""
    ensure_app_navigation()
    st.title(title)
    loaded = state.current()
    if loaded.data is None:
        st.error(t("**{label}** could not be loaded: {error}", label=plain(loaded.label), error=plain(loaded.error)),
                 icon=":material/error:")
        st.page_link(DATA_PAGE, label=t("Fix it on the Data page"), icon=":material/upload_file:")
        st.stop()
    if loaded.is_demo:
        demo_banner()
    if caption:
        st.caption(caption.format(as_of=i18n.day(state.as_of(loaded.data))))
    return loaded


def demo_banner() -> None:
    with st.container(border=True, horizontal=True, vertical_alignment="center", key="demo_banner"):
        st.markdown(":material/science: " + t("**Demo data.** These figures come from a generated sample "
                                              "workbook, not from your books."))
        st.page_link(DATA_PAGE, label=t("Load your own data"), icon=":material/upload_file:")


def lead_currency(analysis, data) -> str | None:
    """The currency a dashboard opens on: the base currency when set and present; else the one
    with the largest open amount converted at the fx_rates (when the workbook has them for every
    currency); else the one with the most open lines (amounts of different currencies are not
    comparable without rates). Never merely the first in alphabetical order."""
    from billing.fx import to_base

    kpis = analysis.kpis
    currencies = kpis["currency"].astype(str)
    if not len(kpis):
        return None
    base = analysis.policy.base_currency
    if base and base.upper() in set(currencies):
        return base.upper()
    if len(data.fx_rates):
        base = (base or analysis.policy.default_currency).upper()
        converted = to_base(kpis[["currency", "total_open"]], ["total_open"], data.fx_rates, analysis.as_of, base)
        if not converted["fx_missing"].any():
            return str(converted.sort_values(["total_open_base", "currency"], ascending=[False, True])
                       ["currency"].iloc[0])
    lines = analysis.by_currency.set_index(analysis.by_currency["currency"].astype(str))["lines"]
    ranked = pd.DataFrame({"currency": currencies, "lines": currencies.map(lines).fillna(0).to_numpy()})
    return str(ranked.sort_values(["lines", "currency"], ascending=[False, True])["currency"].iloc[0])


def focus_currency(analysis, data, key: str, label: str | None = None) -> str | None:
    """One currency to show figures in (amounts of different currencies are never added); opens
    on `lead_currency`."""
    currencies = sorted(set(analysis.kpis["currency"].astype(str)))
    if not currencies:
        return None
    if len(currencies) == 1:
        return currencies[0]
    default = lead_currency(analysis, data)
    if st.session_state.get(key) not in currencies:
        st.session_state.pop(key, None)
    choice = st.segmented_control(
        label or t("Currency"), currencies, default=default, key=key, required=True, persist_state="session"
    )
    return choice or default


def send_or_cancel(prefix: str, *, disabled: bool, on_cancel) -> bool:
    """The two buttons of a send confirmation dialog ("Send now", "Cancel"; keys `{prefix}_send` and
    `{prefix}_cancel`): True when Send was clicked; Cancel calls `on_cancel` and closes the dialog."""
    cols = st.columns(2)
    go = cols[0].button("Send now", key=f"{prefix}_send", type="primary", icon=":material/send:",
                        disabled=disabled, width="stretch")
    if cols[1].button("Cancel", key=f"{prefix}_cancel", width="stretch"):
        on_cancel()
        st.rerun()
    return go
