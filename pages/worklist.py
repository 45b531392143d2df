"""Worklist: whom to call first, and why (SPEC §15).

Customers ranked by expected amount at risk (overdue open × the chance it is not paid in the next
30 days, from the payment prediction), each with its reasons: broken promise, next action due,
reminder level reached, in dispute, over credit limit. "Mine" keeps the signed-in collector's
customers; a row opens the Customer page. Below, the credit hold list for sales. Both download.
"""

import streamlit as st

from ui import collections_view, common, state
from ui.exports import XLSX_MIME, xlsx_bytes
from ui.store import current_actor
from ui.tables import money_table

CUSTOMER_PAGE = "pages/customer.py"

loaded = common.page_start("Worklist", "Whom to call first, as of {as_of}.")
analysis = state.view(loaded)
mine = st.toggle("Mine only", key="worklist_mine", help="Customers whose collector is you (default: their owner).")
frame, hold = collections_view.worklist_tables(loaded, analysis, current_actor().name if mine else None)

st.subheader("Whom to call first", anchor=False)
chosen = money_table(frame, collections_view.WORKLIST_MONEY, key="worklist_table", select=True,
                     dates=["promised_until", "next_action_date"],
                     empty="Nobody to call: nothing overdue or flagged." if not mine else
                     "None of your customers needs a call (your collector name must match the customer's).")
st.caption("At risk = overdue open (less what disputes hold) × the chance it is not paid within 30 days. "
           "Select a row to open the customer.")
if chosen is not None:
    st.session_state["customer_pick"] = str(chosen["customer_id"])
    st.switch_page(CUSTOMER_PAGE)
st.download_button("Download the worklist (XLSX)", key="worklist_download", mime=XLSX_MIME, on_click="ignore",
                   icon=":material/download:", file_name=f"worklist-{analysis.as_of:%Y-%m-%d}.xlsx",
                   data=lambda: xlsx_bytes({"worklist": frame, "credit hold": hold},
                                           {"worklist": list(collections_view.WORKLIST_MONEY),
                                            "credit hold": list(collections_view.HOLD_MONEY)}))

st.subheader("Credit hold", anchor=False)
money_table(hold, collections_view.HOLD_MONEY, key="credit_hold_table",
            empty="No customer is over their credit limit or more than 90 days past due.")
st.caption("Customers over their credit limit, or with anything more than 90 days past due: for sales.")
st.download_button("Download the credit hold list (XLSX)", key="credit_hold_download", mime=XLSX_MIME,
                   on_click="ignore", icon=":material/download:", file_name=f"credit-hold-{analysis.as_of:%Y-%m-%d}.xlsx",
                   data=lambda: xlsx_bytes({"credit hold": hold}, {"credit hold": list(collections_view.HOLD_MONEY)}))
