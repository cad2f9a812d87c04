"""Log records with the request id, as plain text or as one JSON object per line.

`COHORT_LOG_FORMAT=json` makes every line of `cohort web`, `worker` and `beat` a JSON object with
`timestamp` (UTC, ISO 8601), `level`, `logger`, `message`, `request_id` (null outside a request or
the tasks it queued) and, when there is one, `exception` (the formatted traceback), which log
collectors parse without a pattern. Anything else is the plain format, with the request id in
brackets (`-` when none). The filter sits on the handler, so records of every logger get the id.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from cohort.core import request_ids


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_ids.current.get() or "-"
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        line = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": None if request_id in (None, "-") else request_id,
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)
