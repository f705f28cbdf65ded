"""The JSON parser every API view uses, and the strict `json.loads` behind it.

DRF's parser decodes the body as UTF-8 text before parsing, so a body starting with a
byte order mark (which Windows tools such as PowerShell write, and which RFC 8259 §8.1
lets a parser ignore) was refused on some endpoints and read on others. Both readers now
hand the raw bytes to `json_loads_strict`, which takes UTF-8 (with or without a BOM),
UTF-16 and UTF-32. A body nested too deeply for Python's parser (`[[[[…` 5,000 deep fits
in 10 KB) is a 400 saying so, where DRF let the RecursionError through as a 500, and a
number with too many digits is a 400 without Python's own advice in the message.
"""

from __future__ import annotations

import json
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

NESTED_TOO_DEEPLY = "The request body is nested too deeply."


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        try:
            return json_loads_strict(raw)
        except RecursionError:
            raise ParseError(f"JSON parse error - {NESTED_TOO_DEEPLY}") from None
        except ValueError as error:
            if "int_max_str_digits" in str(error):  # Python's own advice, not ours
                raise ParseError("JSON parse error - a number has too many digits.") from None
            raise ParseError(f"JSON parse error - {error}") from None


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def json_loads_strict(data: str | bytes) -> Any:
    """`json.loads` without Python's NaN and Infinity, which are not JSON (taken in, they
    break the answer later); bytes may be UTF-8 with or without a BOM, UTF-16 or UTF-32.
    Raises ValueError, or RecursionError when nested too deeply."""
    if isinstance(data, str):
        data = data.removeprefix("\ufeff")
    return json.loads(data, parse_constant=_not_json)
