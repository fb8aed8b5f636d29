"""POST /v1/images/edits and GET /v1/models through the official Python `openai` client, unchanged but for
base_url and the key. Run by test/e2e/openai-python.e2e-spec.ts against the running service: one JSON line per check
on stdout ({"check", "ok", "detail", ...}), exit status 1 when any check failed.

Environment: STEP1X_BASE_URL (the service's /v1 URL), STEP1X_API_KEY, STEP1X_MODEL, STEP1X_INPUT_PNG (a PNG file).
"""

import base64
import json
import os
import struct
import sys
import time
import traceback
import urllib.request

import openai
from openai import OpenAI

BASE_URL = os.environ["STEP1X_BASE_URL"]
API_KEY = os.environ["STEP1X_API_KEY"]
MODEL = os.environ["STEP1X_MODEL"]
with open(os.environ["STEP1X_INPUT_PNG"], "rb") as f:
    INPUT = f.read()

# StepFun-style extras travel as extra form fields; steps 2 keeps the tiny models' edits short.
EXTRAS = {"steps": 2}

client = OpenAI(base_url=BASE_URL, api_key=API_KEY, max_retries=0, timeout=120)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


INPUT_SIZE = png_size(INPUT)


def image():
    return ("input.png", INPUT, "image/png")


def our_edits() -> list:
    """GET /v1/edits (our own route, not part of the OpenAI API), newest first."""
    request = urllib.request.Request(
        f"{BASE_URL}/edits?limit=100", headers={"Authorization": f"Bearer {API_KEY}"}
    )
    with urllib.request.urlopen(request) as response:
        return json.load(response)["data"]


results = []


def check(name):
    def run(fn):
        try:
            detail = fn() or {}
            results.append({"check": name, "ok": True, **detail})
        except Exception as error:  # every failure is reported, none stops the other checks
            results.append(
                {"check": name, "ok": False, "detail": f"{type(error).__name__}: {error}", "trace": traceback.format_exc()}
            )
        print(json.dumps(results[-1]), flush=True)

    return run


@check("models")
def _():
    ids = [model.id for model in client.models.list()]
    assert ids == [MODEL], ids
    try:
        client.models.retrieve("dall-e-2")
        raise AssertionError("an unknown model was found")
    except openai.NotFoundError as error:
        assert error.code == "model_not_found", error.code
    return {"ids": ids}


@check("url")
def _():
    result = client.images.edit(
        model=MODEL, image=image(), prompt="make the sky pink", response_format="url", size="1024x1024", extra_body=EXTRAS
    )
    assert len(result.data) == 1
    assert result.data[0].revised_prompt is None
    with urllib.request.urlopen(result.data[0].url) as response:
        size = png_size(response.read())
    assert size == INPUT_SIZE, (size, INPUT_SIZE)
    return {"edit_ids": [result.data[0].edit_id], "size": result.size}


@check("b64_json")
def _():
    result = client.images.edit(model=MODEL, image=image(), prompt="add a red hat", response_format="b64_json", extra_body=EXTRAS)
    size = png_size(base64.b64decode(result.data[0].b64_json))
    assert size == INPUT_SIZE, (size, INPUT_SIZE)
    return {"edit_ids": [result.data[0].edit_id]}


@check("n2")
def _():
    result = client.images.edit(model=MODEL, image=image(), prompt="make it snowy", n=2, extra_body=EXTRAS)
    assert len(result.data) == 2, len(result.data)
    images = [base64.b64decode(entry.b64_json) for entry in result.data]
    assert images[0] != images[1], "the two images are the same"
    for data in images:
        assert png_size(data) == INPUT_SIZE
    return {"edit_ids": [entry.edit_id for entry in result.data]}


@check("stream")
def _():
    # 4 steps, partial_images 2: previews every ceil(4 / 3) = 2 steps, so step 2 is a partial image (4 is the end).
    stream = client.images.edit(
        model=MODEL, image=image(), prompt="make it night", stream=True, partial_images=2, extra_body={"steps": 4}
    )
    events = list(stream)
    types = [event.type for event in events]
    assert types and types[-1] == "image_edit.completed", types
    partials = events[:-1]
    assert 1 <= len(partials) <= 2 and all(t == "image_edit.partial_image" for t in types[:-1]), types
    for index, partial in enumerate(partials):
        assert partial.partial_image_index == index, (partial.partial_image_index, index)
        width, height = png_size(base64.b64decode(partial.b64_json))
        assert partial.size == f"{width}x{height}" and max(width, height) <= 256, (partial.size, width, height)
    size = png_size(base64.b64decode(events[-1].b64_json))
    assert size == INPUT_SIZE, (size, INPUT_SIZE)
    return {"types": types, "edit_ids": [events[-1].edit_id]}


@check("bad_request")
def _():
    codes = []
    for fields, files, code, param in [
        ({"n": 9}, {}, "out_of_range", "n"),
        ({"extra_body": {"cfg_scale": 0.5}}, {}, "out_of_range", "cfg_scale"),
        ({"output_format": "gif"}, {}, "invalid_request", "output_format"),
        ({}, {"mask": ("mask.png", INPUT, "image/png")}, "invalid_request", "mask"),
        ({"extra_body": {"style": "vivid"}}, {}, "unknown_field", "style"),
    ]:
        try:
            client.images.edit(model=MODEL, image=image(), prompt="make it blue", **fields, **files)
            raise AssertionError(f"{fields} {list(files)} was accepted")
        except openai.BadRequestError as error:
            assert (error.code, error.param, error.type) == (code, param, "invalid_request_error"), (
                error.code,
                error.param,
                error.type,
            )
            codes.append(error.code)
    return {"codes": codes}


@check("auth")
def _():
    wrong = OpenAI(base_url=BASE_URL, api_key="sk_wrong_key", max_retries=0)
    try:
        wrong.images.edit(model=MODEL, image=image(), prompt="x")
        raise AssertionError("a wrong key was accepted")
    except openai.AuthenticationError as error:
        assert (error.code, error.type) == ("unauthorized", "authentication_error"), (error.code, error.type)


@check("idempotency")
def _():
    before = len(our_edits())
    key = f"py-retry-{time.time()}"
    headers = {"Idempotency-Key": key}
    # The client's own retry: the first attempt times out while the edit runs, the retry sends the same key.
    try:
        client.with_options(timeout=0.15, max_retries=1).images.edit(
            model=MODEL, image=image(), prompt="paint it gold", extra_body={"steps": 12}, extra_headers=headers
        )
    except openai.APIError:
        pass
    first = client.images.edit(model=MODEL, image=image(), prompt="paint it gold", extra_body={"steps": 12}, extra_headers=headers)
    again = client.images.edit(model=MODEL, image=image(), prompt="paint it gold", extra_body={"steps": 12}, extra_headers=headers)
    assert first.data[0].edit_id == again.data[0].edit_id, (first.data[0].edit_id, again.data[0].edit_id)
    after = len(our_edits())
    assert after == before + 1, (before, after)
    return {"edit_ids": [first.data[0].edit_id]}


sys.exit(0 if all(result["ok"] for result in results) else 1)
