"""Parsing of what chat-completions servers send, including DeepSeek's under-load quirks."""

from __future__ import annotations

import json

import pytest

from edgesdk.cloud.sse import SSEDecoder, StreamAccumulator, parse_completion, parse_usage
from edgesdk.errors import CloudProtocolError, CloudUnavailable


def chunk(delta: dict[str, object], finish: str | None = None,
          usage: dict[str, object] | None = None) -> bytes:
    obj: dict[str, object] = {"id": "abc", "model": "deepseek-chat", "choices": [
        {"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        obj["usage"] = usage
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


USAGE = {"prompt_tokens": 100, "completion_tokens": 20, "prompt_cache_hit_tokens": 64,
         "prompt_cache_miss_tokens": 36, "completion_tokens_details": {"reasoning_tokens": 5}}


def test_decoder_skips_comments_and_handles_crlf_split_chunks_and_multiline_data() -> None:
    d = SSEDecoder()
    raw = b": keep-alive\r\n\r\ndata: a\r\ndata: b\r\n\r\nevent: x\ndata: c\n\n"
    events = []
    for i in range(len(raw)):  # byte by byte: events must not depend on chunking
        events += d.feed(raw[i:i + 1])
    assert [(e.event, e.data) for e in events] == [("message", "a\nb"), ("x", "c")]


def test_decoder_flush_emits_last_event_without_trailing_blank_line() -> None:
    d = SSEDecoder()
    assert d.feed(b"data: [DONE]") == []
    assert [e.data for e in d.flush()] == ["[DONE]"]


def test_stream_collects_text_reasoning_usage_and_returns_text_deltas() -> None:
    acc = StreamAccumulator()
    deltas = acc.feed(b": keep-alive\n\n" + chunk({"role": "assistant", "content": ""}))
    deltas += acc.feed(chunk({"reasoning_content": "think ", "content": None}))
    deltas += acc.feed(chunk({"reasoning": "more"}))  # vLLM >= 0.11 spelling
    deltas += acc.feed(chunk({"content": "Hello "}) + chunk({"content": "world"}))
    deltas += acc.feed(chunk({"content": ""}, finish="stop", usage=USAGE) + b"data: [DONE]\n\n")
    c = acc.finish()
    assert deltas == ["Hello ", "world"]
    assert (c.text, c.reasoning, c.finish_reason, c.saw_done) == (
        "Hello world", "think more", "stop", True)
    assert c.usage.prompt_cache_hit_tokens == 64 and c.usage.reasoning_tokens == 5


def ext_chunk(delta: dict[str, object], ext: dict[str, object],
              finish: str | None = None) -> bytes:
    obj = json.loads(chunk(delta, finish)[6:])
    obj["edgesdk"] = ext
    return b"data: " + json.dumps(obj).encode() + b"\n\n"


def test_a_decline_marked_before_its_text_is_withheld_but_kept() -> None:
    acc = StreamAccumulator()
    handed = acc.feed(chunk({"role": "assistant", "content": ""}))
    handed += acc.feed(ext_chunk({"content": "I'm not sure."}, {"declined": True}))
    handed += acc.feed(ext_chunk({}, {"declined": True, "confidence": 0.0}, finish="stop"))
    done = acc.finish()
    assert handed == [] and done.text == "I'm not sure." and done.declined
    assert done.confidence == 0.0  # a reported 0.0 is a confidence, not a missing one
    assert done.confidence_known


def test_a_tier_can_say_its_confidence_is_a_placeholder() -> None:
    acc = StreamAccumulator()
    acc.feed(chunk({"content": "12 dollars"}))
    acc.feed(ext_chunk({}, {"confidence": 0.0, "confidence_known": False}, finish="stop"))
    done = acc.finish()
    assert (done.text, done.confidence, done.confidence_known) == ("12 dollars", 0.0, False)
    body = json.loads(chunk({}, finish="stop")[6:])
    body["choices"][0]["message"] = {"role": "assistant", "content": "12 dollars"}
    body["edgesdk"] = {"confidence": 0.0, "confidence_known": False}
    plain = parse_completion(json.dumps(body).encode())
    assert (plain.confidence, plain.confidence_known) == (0.0, False)
    body["edgesdk"] = {"confidence": 0.0, "confidence_known": "no"}  # only false says so
    assert parse_completion(json.dumps(body).encode()).confidence_known


def test_a_decline_said_only_after_the_text_cannot_be_withheld() -> None:
    acc = StreamAccumulator()
    handed = acc.feed(chunk({"content": "cheese"}))
    handed += acc.feed(ext_chunk({}, {"declined": True, "confidence": 0.01}, finish="stop"))
    done = acc.finish()
    assert handed == ["cheese"] and done.declined and done.confidence == 0.01


def test_stream_without_done_but_finished_is_accepted() -> None:
    acc = StreamAccumulator()
    acc.feed(chunk({"content": "ok"}) + chunk({}, finish="stop", usage=USAGE))
    c = acc.finish()
    assert c.text == "ok" and not c.saw_done


def test_truncated_stream_is_retryable_only_if_nothing_was_shown() -> None:
    acc = StreamAccumulator()
    acc.feed(chunk({"reasoning_content": "thinking..."}))
    with pytest.raises(CloudProtocolError) as exc:
        acc.finish()
    assert exc.value.retryable

    acc = StreamAccumulator()
    acc.feed(chunk({"content": "half an ans"}))
    acc.delivered = 1
    with pytest.raises(CloudProtocolError) as exc:
        acc.finish()
    assert not exc.value.retryable


def test_insufficient_system_resource_and_empty_replies_are_retryable_errors() -> None:
    acc = StreamAccumulator()
    acc.feed(chunk({"content": "par"}, finish="insufficient_system_resource"))
    with pytest.raises(CloudUnavailable) as exc:
        acc.finish()
    assert exc.value.retryable
    acc = StreamAccumulator()
    acc.feed(chunk({"content": ""}, finish="stop"))
    with pytest.raises(CloudProtocolError):
        acc.finish()


def test_error_object_inside_a_stream_is_typed() -> None:
    acc = StreamAccumulator()
    with pytest.raises(CloudUnavailable, match="overloaded"):
        acc.feed(b'data: {"error": {"message": "overloaded"}}\n\n')


def completion(**message: object) -> bytes:
    return json.dumps({"id": "x", "model": "deepseek-reasoner", "usage": USAGE, "choices": [
        {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}]}
    ).encode()


def test_completion_after_blank_keepalive_lines() -> None:
    c = parse_completion(b"\n\n\n" + completion(content="42", reasoning_content="6*7"))
    assert (c.text, c.reasoning, c.model) == ("42", "6*7", "deepseek-reasoner")


def test_completion_accepts_vllm_reasoning_field() -> None:
    assert parse_completion(completion(content="a", reasoning="r")).reasoning == "r"


@pytest.mark.parametrize("body", [b"", b"\n\n\n", b"   "])
def test_empty_body_is_a_retryable_protocol_error(body: bytes) -> None:
    with pytest.raises(CloudProtocolError) as exc:
        parse_completion(body)
    assert exc.value.retryable


@pytest.mark.parametrize("body", [b"<html>bad gateway</html>", b"[1]", b'{"choices": []}',
                                  b"\xff\xfe"])
def test_non_completion_bodies_are_protocol_errors(body: bytes) -> None:
    with pytest.raises(CloudProtocolError):
        parse_completion(body)


def test_usage_variants() -> None:
    assert parse_usage(None).prompt_tokens == 0
    u = parse_usage({"prompt_tokens": 10, "completion_tokens": 2,
                     "prompt_tokens_details": {"cached_tokens": 4}})  # OpenAI / vLLM style
    assert (u.prompt_cache_hit_tokens, u.prompt_cache_miss_tokens) == (4, 6)
    u = parse_usage({"prompt_tokens": 10, "completion_tokens": 2})  # llama.cpp: no cache info
    assert (u.prompt_cache_hit_tokens, u.prompt_cache_miss_tokens) == (0, 10)
