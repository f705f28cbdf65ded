"""Scopes a key can hold. A key created without explicit scopes gets its kind's defaults."""

OCR = "ocr"
KEY_READ = "key:read"
KEYS_READ = "keys:read"
KEYS_WRITE = "keys:write"
CREDITS_READ = "credits:read"
USAGE_READ = "usage:read"

DEFAULT_SCOPES = {
    "api": [OCR, KEY_READ],
    "management": [KEY_READ, KEYS_READ, KEYS_WRITE, CREDITS_READ, USAGE_READ],
}
ALLOWED_SCOPES = {
    "api": set(DEFAULT_SCOPES["api"]),
    "management": set(DEFAULT_SCOPES["management"]),
}
