"""billing.labels: every engine code has a label, and bucket labels say what the basis measures."""

from billing import labels
from billing.allocation import PROBLEMS, SOURCES, STEPS
from billing.disputes import STATES
from billing.dunning import SKIP_REASONS
from billing.policy import Policy
from billing.reconcile import EXCEPTION_TYPES


def test_every_engine_code_has_a_label_in_words():
    assert set(labels.EXCEPTION_TYPES) == set(EXCEPTION_TYPES)
    assert set(labels.SEVERITIES) == {info["severity"] for info in EXCEPTION_TYPES.values()}
    assert set(labels.STEPS) == set(STEPS) and set(labels.SOURCES) == set(SOURCES)
    assert set(labels.REFERENCE_PROBLEMS) == set(PROBLEMS)
    assert set(labels.DISPUTE_STATES) == set(STATES)
    assert SKIP_REASONS is labels.SKIP_REASONS
    for table in (labels.EXCEPTION_TYPES, labels.STEPS, labels.DISPUTE_STATES, labels.SEVERITIES):
        assert not [text for text in table.values() if "_" in text], table


def test_buckets_are_lateness_under_the_due_date_basis_and_ages_under_the_invoice_date_basis():
    buckets = Policy().bucket_labels
    assert [labels.bucket_label(b) for b in buckets] == [
        "Not yet due", "1-30 days late", "31-60 days late", "61-90 days late", "91-120 days late",
        "Over 120 days late"]
    assert [labels.bucket_label(b, "invoice_date") for b in buckets] == [
        "0 days old", "1-30 days old", "31-60 days old", "61-90 days old", "91-120 days old",
        "Over 120 days old"]
    assert "overdue still means past the due date" in labels.basis_note("invoice_date")


def test_labels_go_through_the_translator_and_unknown_codes_read_as_words():
    marked = lambda text: "»" + text  # noqa: E731 - a stand-in translator (keeps the {fields})
    assert labels.label(labels.STEPS, "fifo", marked) == "»Oldest first"
    assert labels.bucket_label("over_90", "due_date", marked) == "»Over 90 days late"
    assert labels.label(labels.EXCEPTION_TYPES, "NEW_KIND") == "New kind"
    assert labels.column_label("customer_id") == "Customer ID"
