from keys import crypto


def test_it_generates_keys_with_prefix_body_and_checksum(settings):
    generated = crypto.generate("api")
    assert generated.secret.startswith("sk-ar-")
    assert len(generated.secret) == len("sk-ar-") + 32 + 6
    parsed = crypto.parse(generated.secret)
    assert parsed is not None and parsed.kind == "api"
    assert parsed.lookup_prefix == generated.lookup_prefix


def test_it_refuses_a_bad_checksum():
    secret = crypto.generate("management").secret
    assert secret.startswith("ak_")
    flipped = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert crypto.parse(flipped) is None
    typo = secret[:10] + ("x" if secret[10] != "x" else "y") + secret[11:]
    assert crypto.parse(typo) is None


def test_it_refuses_malformed_keys():
    for bad in ["", "sk-ar-", "sk-ar-short", "pk_" + "a" * 40, "sk-ar-" + "!" * 38]:
        assert crypto.parse(bad) is None


def test_the_hash_depends_on_the_pepper(settings):
    secret = crypto.generate("api").secret
    first = crypto.hash_key(secret)
    settings.API_KEY_PEPPER = "another pepper"
    assert crypto.hash_key(secret) != first
    assert secret not in first


def test_the_label_is_masked():
    generated = crypto.generate("api")
    assert generated.label.startswith("sk-ar-")
    assert "…" in generated.label
    assert generated.secret not in generated.label
