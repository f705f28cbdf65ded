"""Document intake: bytes from a client (inline, data: URL or fetched URL) to a `Document`."""
