#!/usr/bin/env bash
# The seeds' own curl examples, as printed in their docs, changed only in host and key.
#
#   BASE_URL=http://127.0.0.1:8000 API_KEY=sk-ar-... scripts/seed_examples.sh
#
# Run it in a directory holding the files the examples name: receipt.png (000, 002, 003),
# document.png (001), scan.pdf (002, 004). Each response is printed after a "### <name>"
# line. The server must serve the seeds' model names: 001 asks for
# google/gemini-2.0-flash-001, 002 for openai/gpt-4o and 004 for alpha-digit-max (an
# operator maps them to a provider, e.g. the local engine; OCR_MODEL_ALIASES does it).
#
# The seeds' URL examples (https://example.com/...) need a host the server may fetch:
# with FILES_URL set (e.g. http://127.0.0.1:8991, a file server listed in the server's
# FETCH_ALLOWED_HOSTS serving the files above plus invoice.jpg, german-invoice.jpg and
# receipt.jpg for 001 and invoice.pdf for 002), they run with that host instead.
# The 002 examples send no key in the seed; here they send the key, as every dialect needs.
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

echo "### 002-image"
IMG_BASE64=$(base64 -i receipt.png | tr -d '\n')
curl -X POST "$BASE/api/ocr-structured-v4" \
  -sS -H "Authorization: Bearer $API_KEY" \
  -H "Content-Type: application/json" \
  -d '{
    "imageBase64": "'"$IMG_BASE64"'",
    "mimeType": "image/png"
  }'
echo

echo "### 002-pdf-base64"
PDF_BASE64=$(base64 -i scan.pdf | tr -d '\n')
curl -X POST "$BASE/api/ocr-structured-v4" \
  -sS -H "Authorization: Bearer $API_KEY" \
  -H "Content-Type: application/json" \
  -d '{
    "pdfBase64": "'"$PDF_BASE64"'"
  }'
echo

echo "### 003-upload"
# The seed's File Upload API step, then its own curl example with the key it returned.
UPLOAD=$(curl -sS -X POST "$BASE/api/upload" -H "X-API-Key: $API_KEY" -F "file=@receipt.png")
echo "$UPLOAD"
FILE_KEY=$(printf '%s' "$UPLOAD" | sed -n 's/.*"key": *"\([^"]*\)".*/\1/p')

echo "### 003-process"
curl -X POST "$BASE/api/ocr/process" \
  -sS -H "Content-Type: application/json" \
  -H "X-API-Key: $API_KEY" \
  -d '{
    "key": "'"$FILE_KEY"'"
  }'
echo

if [ -n "${FILES_URL:-}" ]; then
  echo "### 001-url"
  curl -X POST "$BASE/v1/ocr" \
  -sS -H "Authorization: Bearer $API_KEY" \
  -H "Content-Type: application/json" \
  -d '{
  "url": "'"$FILES_URL"'/invoice.jpg",
  "model": "openai/gpt-4o",
  "options": {
  "extract_tables": true
  }
  }'
  echo

  echo "### 001-language"
  curl -X POST "$BASE/v1/ocr" \
  -sS -H "Authorization: Bearer $API_KEY" \
  -H "Content-Type: application/json" \
  -d '{
  "url": "'"$FILES_URL"'/german-invoice.jpg",
  "options": {
  "language": "de",
  "output_format": "markdown"
  }
  }'
  echo

  echo "### 001-json"
  curl -X POST "$BASE/v1/ocr" \
  -sS -H "Authorization: Bearer $API_KEY" \
  -H "Content-Type: application/json" \
  -d '{
  "url": "'"$FILES_URL"'/receipt.jpg",
  "options": {
  "output_format": "json",
  "extract_tables": true
  }
  }'
  echo

  echo "### 002-pdf-url"
  curl -X POST "$BASE/api/ocr-structured-v4" \
    -sS -H "Authorization: Bearer $API_KEY" \
    -H "Content-Type: application/json" \
    -d '{
      "pdfUrl": "'"$FILES_URL"'/invoice.pdf"
    }'
  echo

  echo "### 002-complete"
  curl -X POST "$BASE/api/ocr-structured-v4" \
    -sS -H "Authorization: Bearer $API_KEY" \
    -H "Content-Type: application/json" \
    -d '{
  "pdfUrl": "'"$FILES_URL"'/invoice.pdf",
  "model": "openai/gpt-4o",
  "plugins": [
    {
      "id": "file-parser",
      "config": {
        "engine": "mistral-ocr"
      }
    }
  ]
}'
  echo

  echo "### 004-url"
  curl "$BASE/ocr" \
  -sS -H "Content-Type: application/json" \
  -H "Authorization: Bearer $OTOROSHI_API_KEY" \
  -d '{
  "model": "alpha-digit-max",
  "document": {
  "type": "document_url",
  "document_url": "'"$FILES_URL"'/scan.pdf"
  }
  }'
  echo
fi
