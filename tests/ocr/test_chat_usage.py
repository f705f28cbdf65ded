"""`chat_usage_read`: the tokens and cost an OpenAI-compatible answer's `usage` bills."""

from __future__ import annotations

import pytest

from ocr.providers.chat_usage import chat_usage_read


@pytest.mark.parametrize(
    ("usage", "output"),
    [
        # OpenAI: reasoning is inside completion_tokens; counted once.
        (
            {
                "prompt_tokens": 100,
                "completion_tokens": 500,
                "total_tokens": 600,
                "completion_tokens_details": {"reasoning_tokens": 400},
            },
            500,
        ),
        # Gemini's compatible endpoint: reasoning only in total_tokens and the breakdown.
        (
            {
                "prompt_tokens": 20,
                "completion_tokens": 198,
                "total_tokens": 623,
                "completion_tokens_details": {"reasoning_tokens": 405},
            },
            603,
        ),
        # All of it reasoning, nothing visible, and no total to go by.
        (
            {
                "prompt_tokens": 21,
                "completion_tokens": 0,
                "completion_tokens_details": {"reasoning_tokens": 60},
            },
            60,
        ),
        # A total below prompt + completion never lowers the output.
        ({"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 10}, 50),
        ({"prompt_tokens": -5, "completion_tokens": -7}, 0),
        ({}, 0),
    ],
)
def test_output_is_what_the_upstream_billed_reasoning_included_once(usage, output):
    assert chat_usage_read(usage).output_tokens == output


@pytest.mark.parametrize(
    ("usage", "micros"),
    [
        ({}, None),
        ({"cost": 0.00012}, 120),
        ({"cost": -1}, 0),
        # BYOK: OpenRouter's fee plus what the provider billed the operator's key.
        (
            {"cost": 0.95, "is_byok": True, "cost_details": {"upstream_inference_cost": 19}},
            19_950_000,
        ),
        # OpenRouter credits: the inference is inside `cost`, repeated in the details.
        (
            {"cost": 0.0003, "is_byok": False, "cost_details": {"upstream_inference_cost": 0.0003}},
            300,
        ),
        # No flag: the larger figure, never both.
        ({"cost": 0.05, "cost_details": {"upstream_inference_cost": 1}}, 1_000_000),
        ({"cost": 0.0003, "cost_details": {"upstream_inference_cost": 0.0003}}, 300),
        ({"cost": 0.0003, "cost_details": {"upstream_inference_cost": None}}, 300),
        ({"is_byok": True, "cost_details": {"upstream_inference_cost": 0.002}}, 2000),
    ],
)
def test_cost_is_the_whole_inference_cost_counted_once(usage, micros):
    assert chat_usage_read(usage).cost_micros == micros


@pytest.mark.parametrize("usage", [{"cost": True}, {"cost": "NaN"}, {"cost": "lots"}])
def test_a_cost_of_the_wrong_kind_is_ignored_it_is_never_charged(usage):
    read = chat_usage_read({"prompt_tokens": 10, "completion_tokens": 2, **usage})
    assert (read.prompt_tokens, read.output_tokens, read.cost_micros) == (10, 2, None)


@pytest.mark.parametrize(
    "usage",
    [
        {"completion_tokens": "many"},
        {"total_tokens": [1]},
        {"prompt_tokens": 1, "completion_tokens_details": "none"},
    ],
)
def test_usage_of_the_wrong_kind_is_a_broken_answer(usage):
    with pytest.raises((ValueError, TypeError, ArithmeticError, AttributeError)):
        chat_usage_read(usage)


def test_counts_are_whole_numbers_never_booleans():
    assert chat_usage_read(None) == chat_usage_read({"cost": 0.001}).__class__(0, 0, None)
    read = chat_usage_read({"prompt_tokens": 1000.2, "completion_tokens": -5})
    assert (read.prompt_tokens, read.output_tokens) == (1001, 0)
    for junk in (True, "1000", [1]):
        with pytest.raises(TypeError):
            chat_usage_read({"prompt_tokens": junk, "completion_tokens": 1})


@pytest.mark.parametrize(
    ("size", "image_tokens"),
    [
        ((400, 120), 85 + 170),  # one tile
        ((1000, 800), 85 + 170 * 4),  # shortest side to 768: 960 x 768, 2 x 2 tiles
        ((4000, 1000), 85 + 170 * 4),  # fit in 2048: 2048 x 512, 4 x 1 tiles
    ],
)
def test_tokens_are_estimated_as_openai_prices_images_and_a_token_a_4_chars(size, image_tokens):
    import base64
    import io

    from PIL import Image

    from ocr.providers.chat_usage import tokens_estimate

    buffer = io.BytesIO()
    Image.new("L", size, 255).save(buffer, format="PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    messages = [
        {"role": "system", "content": "12345678"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "abcde"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        },
    ]
    assert tokens_estimate(messages, "x" * 9) == (2 + 2 + image_tokens, 3)
    assert tokens_estimate(
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:,"}}]}], ""
    ) == (765, 1)
