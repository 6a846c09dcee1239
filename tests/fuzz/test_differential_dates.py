"""Differential tests of the HTTP-date code the conditional headers depend on: fastcore's
parser (core/static.py parse_http_date, apr_date_parse_http's forms) against the date it
was written from and against the standard library's email.utils, where RFC 9110 leaves no
choice; the engine's formatter (C, _sendfile.http_date) against its pure-Python twin and
against email.utils.formatdate."""
from __future__ import annotations

import calendar
import datetime as dt
import email.utils

from hypothesis import given, settings
from hypothesis import strategies as st

from fastcore import _sendfile as ext
from fastcore._pure import sendfile as pure
from fastcore.core.static import parse_http_date

_WDAY = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_WEEKDAY = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_MON = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# RFC 850's two-digit years: Apache's (and fastcore's) pivot at 70 is the only rule shared
# by every reader for 1970-2068 (email.utils flips at 69)
_rfc850_range = st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(2068, 12, 31, 23, 59, 59))
_any_range = st.datetimes(dt.datetime(1970, 1, 1), dt.datetime(9999, 12, 31, 23, 59, 59))


def _epoch(d: dt.datetime) -> float:
    return float(calendar.timegm(d.timetuple()))


@settings(max_examples=400, deadline=None)
@given(_any_range)
def test_imf_fixdate_parses_to_its_instant(d: dt.datetime) -> None:
    text = f"{_WDAY[d.weekday()]}, {d.day:02d} {_MON[d.month - 1]} {d.year:04d} " \
           f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} GMT"
    assert parse_http_date(text) == _epoch(d)
    assert email.utils.parsedate_to_datetime(text).replace(tzinfo=None) == d.replace(
        microsecond=0)


@settings(max_examples=300, deadline=None)
@given(_rfc850_range)
def test_rfc850_and_asctime_parse_to_their_instant(d: dt.datetime) -> None:
    rfc850 = f"{_WEEKDAY[d.weekday()]}, {d.day:02d}-{_MON[d.month - 1]}-{d.year % 100:02d} " \
             f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} GMT"
    asctime = f"{_WDAY[d.weekday()]} {_MON[d.month - 1]} {d.day:2d} " \
              f"{d.hour:02d}:{d.minute:02d}:{d.second:02d} {d.year:04d}"
    assert parse_http_date(rfc850) == _epoch(d)
    assert parse_http_date(asctime) == _epoch(d)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 253402300799))
def test_engine_and_twin_format_dates_as_email_utils(t: int) -> None:
    text = ext.http_date(t)
    assert text == pure.http_date(t)
    assert text.decode() == email.utils.formatdate(t, usegmt=True)
    assert parse_http_date(text.decode()) == float(t)


@given(st.text(max_size=40))
def test_arbitrary_text_is_a_date_or_none(text: str) -> None:
    t = parse_http_date(text)
    assert t is None or (isinstance(t, float) and t == int(t))
