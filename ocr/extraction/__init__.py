"""Structured data out of OCR text: the local rule-based extractor (`rules`) and the
chat-model path (`llm`, providers issue). Seed 002 picks one per request."""
