#!/usr/bin/env bash
# The seeds' own curl examples, as printed in their docs, changed only in host and key.
#
#   BASE_URL=http://127.0.0.1:8000 API_KEY=sk-ar-... scripts/seed_examples.sh
#
# Run it in a directory holding the files the examples name: receipt.png (000),
# document.png (001), scan.pdf (004). Each response is printed after a "### <name>" line.
# The server must serve the seeds' model names: 001 asks for google/gemini-2.0-flash-001
# and 004 for alpha-digit-max (an operator maps them to a provider, e.g. the local engine).
set -euo pipefail

BASE="${BASE_URL:-http://127.0.0.1:8000}"
ANYROUTER_API_KEY="${API_KEY:?set API_KEY to an sk-ar- key}"
OTOROSHI_API_KEY="$API_KEY"

echo "### 000-json"
# JSON — base64 data URL
curl "$BASE/api/v1/ocr/extract" \
  -sS -H "Authorization: Bearer $ANYROUTER_API_KEY" \
  -H "Content-Type: application/json" \
  -d "{\"image\": \"$(base64 -i receipt.png | tr -d '\n')\"}"
echo

echo "### 000-multipart"
# Multipart — raw file upload
curl "$BASE/api/v1/ocr/extract" \
  -sS -H "Authorization: Bearer $ANYROUTER_API_KEY" \
  -F "image=@receipt.png"
echo

echo "### 001-base64"
# Encode your image to base64
IMG_BASE64=$(base64 -i document.png | tr -d '\n')
curl -X POST "$BASE/v1/ocr" \
-sS -H "Authorization: Bearer $API_KEY" \
-H "Content-Type: application/json" \
-d '{
"base64": "'"$IMG_BASE64"'",
"model": "google/gemini-2.0-flash-001"
}'
echo

echo "### 004-json"
# The seed's document_url example, adapted to a data URL (the server cannot reach example.com).
SCAN_DATA_URL="data:application/pdf;base64,$(base64 -i scan.pdf | tr -d '\n')"
curl "$BASE/ocr" \
-sS -H "Content-Type: application/json" \
-H "Authorization: Bearer $OTOROSHI_API_KEY" \
-d '{
"model": "alpha-digit-max",
"document": {
"type": "document_url",
"document_url": "'"$SCAN_DATA_URL"'"
}
}'
echo

echo "### 004-multipart"
curl "$BASE/ocr" \
-sS -H "Authorization: Bearer $OTOROSHI_API_KEY" \
-F "image=@scan.pdf" \
-F "model=alpha-digit-max"
echo
