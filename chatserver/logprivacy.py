"""A logging filter that keeps IP addresses, tokens and query strings out of every log line.

The code never logs message text, addresses or session tokens on purpose; this filter is the
second line of defence for what libraries (daphne, Twisted, Django) log on their own, such as
a peer address in an error or a URL with a query string.
"""

from __future__ import annotations

import logging
import re

_IPV4 = re.compile(r"\b(?:\d{1,3}\.){3}\d{1,3}\b")
_IPV6 = re.compile(r"\[?\b(?:[0-9a-fA-F]{0,4}:){2,7}[0-9a-fA-F]{0,4}\b\]?")
_QUERY = re.compile(r"\?[^\s\"']*")
_TOKENISH = re.compile(r"(?i)(sessionid|csrftoken|token|phrase|code)=[^\s;&\"']+")


def scrub(text: str) -> str:
    text = _TOKENISH.sub(r"\1=[redacted]", text)
    text = _QUERY.sub("?[redacted]", text)
    text = _IPV4.sub("[address]", text)
    return _IPV6.sub("[address]", text)


class PrivacyFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed log call must not break logging
            message = str(record.msg)
        record.msg = scrub(message)
        record.args = None
        if record.exc_info:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True
