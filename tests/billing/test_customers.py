"""Customers as statements print them: the postal address joined from the parts exports give."""
from __future__ import annotations

import pandas as pd

from billing.customers import customer_address


def _address(**parts) -> str | None:
    value = customer_address(pd.DataFrame({k: [v] for k, v in parts.items()}, dtype="string")).iloc[0]
    return None if pd.isna(value) else value


def test_a_european_address_puts_the_postcode_before_the_town():
    assert _address(address="Váci utca 1.", postcode="1051", city="Budapest", country="Hungary") == (
        "Váci utca 1.\n1051 Budapest\nHungary")


def test_a_region_writes_the_town_line_city_region_postcode():
    assert _address(address="2587 Sesame Street", address_2="Suite 9", city="Springfield", region="IL",
                    postcode="62704", country="United States") == (
        "2587 Sesame Street\nSuite 9\nSpringfield, IL 62704\nUnited States")


def test_missing_parts_leave_no_blank_line_or_dangling_separator():
    assert _address(address="  ", address_2=None, city="Paris", postcode=None, country="") == "Paris"
    assert _address(city=None, region="NY", postcode="10001") == "NY 10001"
    assert _address(address=None, city="", country=None) is None


def test_a_multi_line_address_cell_keeps_its_lines_without_their_padding():
    assert _address(address="上海市浦东新区\n  世纪大道 100 号 ") == "上海市浦东新区\n世纪大道 100 号"


def test_a_table_without_address_columns_has_no_address():
    frame = pd.DataFrame({"customer_id": ["C1", "C2"]}, dtype="string")
    assert customer_address(frame).isna().tolist() == [True, True]
