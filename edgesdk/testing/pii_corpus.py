"""An English + Chinese corpus of personal data, for tests and for checking a custom Redactor.

``CORPUS``: (text, [secrets that must not survive redaction]), shared by the unit test (text
redaction) and the integration test (nothing reaches the outbox file or the ingest server).
``TYPED``: the same kind of entries labelled by type (e-mail, phones of three regions, ID
numbers, cards, IBANs, keys, addresses, names, coordinates, IP and MAC addresses, Chinese
licence plates), and ``HARD_NEGATIVES``: what looks like personal data and must survive
(versions, prices, dates, formulae, standards). ``measure`` gives recall and precision per type
(reported in ``docs/data.md``).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CORPUS: list[tuple[str, list[str]]] = [
    ("Email me at john.doe+news@example.co.uk tomorrow", ["john.doe+news@example.co.uk"]),
    ("Contact: ALICE_SMITH@Company.COM, cc bob@mail.example.org",
     ["ALICE_SMITH@Company.COM", "bob@mail.example.org"]),
    ("我的邮箱是 zhang.san@163.com，请发给我", ["zhang.san@163.com"]),
    ("联系人：李四，邮箱lisi2020@qq.com", ["lisi2020@qq.com"]),
    ("Call me on +1 (415) 555-2671 after 6pm", ["(415) 555-2671", "555-2671"]),
    ("US office: 415-555-0199", ["415-555-0199"]),
    ("London desk +44 20 7946 0958", ["7946 0958"]),
    ("Paris: +33 1 42 68 53 00", ["42 68 53 00"]),
    ("Berlin 0049 30 901820", ["901820"]),
    ("我的手机号码13812345678，有事打给我", ["13812345678"]),
    ("电话：+86 139-1234-5678", ["139-1234-5678", "1234-5678"]),
    ("请拨打 186 1234 5678 联系王先生", ["186 1234 5678"]),
    ("手机+8615912345678", ["15912345678"]),
    ("北京办公室电话 010-62345678", ["62345678"]),
    ("My card is 4111 1111 1111 1111, expiry 12/27", ["4111 1111 1111 1111"]),
    ("Pay with 5500-0000-0000-0004 please", ["5500-0000-0000-0004"]),
    ("amex 378282246310005", ["378282246310005"]),
    ("银行卡号 6222021234567890128 请转账", ["6222021234567890128"]),
    ("信用卡：4012888888881881", ["4012888888881881"]),
    ("身份证号：11010519491231002X", ["11010519491231002X"]),
    ("他的身份证是440308199901011234。", ["440308199901011234"]),
    ("ID 320102198001010016 on file", ["320102198001010016"]),
    ("Server at 192.168.1.20 and backup 10.0.0.254", ["192.168.1.20", "10.0.0.254"]),
    ("服务器地址 47.96.123.45 端口 8080", ["47.96.123.45"]),
    ("IPv6 2001:db8:85a3::8a2e:370:7334 is the gateway", ["2001:db8:85a3::8a2e:370:7334",
                                                          "8a2e:370:7334"]),
    ("export OPENAI_API_KEY=sk-proj-AbCdEf1234567890GhIjKlMnOp", ["sk-proj-AbCdEf1234567890"]),
    ("DeepSeek key: sk-3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c", ["3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"]),
    ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcDEF123_-x",
     ["eyJhbGciOiJIUzI1NiJ9", "abcDEF123_-x"]),
    ("curl -H 'Authorization: Bearer 9f8e7d6c5b4a39281706'", ["9f8e7d6c5b4a39281706"]),
    ("aws AKIAIOSFODNN7EXAMPLE in config", ["AKIAIOSFODNN7EXAMPLE"]),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
     ["ghp_abcdefghijklmnopqrstuvwxyz0123456789"]),
    ("password: hunter2hunter2", ["hunter2hunter2"]),
    ("我的密码是 Zx9!qwerty88，别告诉别人", ["Zx9!qwerty88"]),
    ("api_key = 'AbC123xyz789LmNoP'", ["AbC123xyz789LmNoP"]),
    ("把发票寄到 wang.wu@company.cn 或打 13698765432",
     ["wang.wu@company.cn", "13698765432"]),
    ("Mixed: call 021-64321234 or mail ops@example.com from 172.16.5.4",
     ["64321234", "ops@example.com", "172.16.5.4"]),
]

# Sentences that must come through unchanged (no over-redaction of ordinary content).
CLEAN: list[str] = [
    "What is 17 times 23?",
    "The meeting is at 12:30 on 2024-05-01 in room 402.",
    "Version 1.2.3 costs 12.50 dollars.",
    "今天北京的天气怎么样？",
    "How many calories are in 100 g of rice?",
    "Order number 4111111111111112 has shipped.",
]

# (type, text, secrets): every type the redactor promises, in English and Chinese
TYPED: list[tuple[str, str, list[str]]] = [
    ("email", "Email me at john.doe+news@example.co.uk tomorrow", ["john.doe+news@example.co.uk"]),
    ("email", "我的邮箱是 zhang.san@163.com，请发给我", ["zhang.san@163.com"]),
    ("email", "cc ALICE_SMITH@Company.COM on it", ["ALICE_SMITH@Company.COM"]),
    ("phone_cn", "我的手机号码13812345678，有事打给我", ["13812345678"]),
    ("phone_cn", "电话：+86 139-1234-5678", ["139-1234-5678"]),
    ("phone_cn", "北京办公室电话 010-62345678", ["62345678"]),
    ("phone_us", "Call me on +1 (415) 555-2671 after 6pm", ["555-2671"]),
    ("phone_us", "US office: 415-555-0199", ["415-555-0199"]),
    ("phone_us", "text (212) 555-0147 when you land", ["555-0147"]),
    ("phone_eu", "London desk +44 20 7946 0958", ["7946 0958"]),
    ("phone_eu", "Paris: +33 1 42 68 53 00", ["42 68 53 00"]),
    ("phone_eu", "Berlin 0049 30 901820", ["901820"]),
    ("phone_eu", "Milano +39 02 1234 5678, chiedi di Marco", ["1234 5678"]),
    ("cn_id", "身份证号：11010519491231002X", ["11010519491231002X"]),
    ("cn_id", "ID 320102198001010016 on file", ["320102198001010016"]),
    ("cn_id", "他的身份证是440308199901011234。", ["440308199901011234"]),
    ("card", "My card is 4111 1111 1111 1111, expiry 12/27", ["4111 1111 1111 1111"]),
    ("card", "银行卡号 6222021234567890128 请转账", ["6222021234567890128"]),
    ("card", "amex 378282246310005", ["378282246310005"]),
    ("iban", "Wire it to DE89 3704 0044 0532 0130 00 today", ["3704 0044 0532 0130"]),
    ("iban", "GB82WEST12345698765432 is the account", ["GB82WEST12345698765432"]),
    ("iban", "请汇到 FR14 2004 1010 0505 0001 3M02 606", ["2004 1010 0505 0001"]),
    ("iban", "NL91ABNA0417164300 (ING)", ["NL91ABNA0417164300"]),
    ("api_key", "DeepSeek key: sk-3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c",
     ["3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c"]),
    ("api_key", "aws AKIAIOSFODNN7EXAMPLE in config", ["AKIAIOSFODNN7EXAMPLE"]),
    ("api_key", "token ghp_abcdefghijklmnopqrstuvwxyz0123456789",
     ["ghp_abcdefghijklmnopqrstuvwxyz0123456789"]),
    ("api_key", "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.abcDEF123_-x",
     ["eyJzdWIiOiIxMjM0In0"]),
    ("api_key", "我的密码是 Zx9!qwerty88，别告诉别人", ["Zx9!qwerty88"]),
    ("address", "send it to 1600 Amphitheatre Parkway, Mountain View", ["1600 Amphitheatre"]),
    ("address", "she lives at 221B Baker Street", ["221B Baker"]),
    ("address", "快递寄到北京市朝阳区建国路88号", ["建国路88号"]),
    ("address", "我住在上海市徐汇区漕溪北路595号1203室", ["漕溪北路595号"]),
    ("name", "Hi, my name is John Smith and I need a taxi", ["John Smith"]),
    ("name", "你好，我叫张三，想订一张票", ["张三"]),
    ("name", "Call me Ishmael.", ["Ishmael"]),
    ("name", "我的名字是李小龙。", ["李小龙"]),
    ("gps", "I'm at 37.7749, -122.4194 right now", ["37.7749", "122.4194"]),
    ("gps", "坐标 39.9042, 116.4074", ["39.9042", "116.4074"]),
    ("gps", "pin: 48.8584° N, 2.2945° E", ["48.8584", "2.2945"]),
    ("ip", "Server at 192.168.1.20 and backup 10.0.0.254", ["192.168.1.20", "10.0.0.254"]),
    ("ip", "服务器地址 47.96.123.45 端口 8080", ["47.96.123.45"]),
    ("ip", "IPv6 2001:db8:85a3::8a2e:370:7334 is the gateway", ["8a2e:370:7334"]),
    ("mac", "router MAC 00:1A:2B:3C:4D:5E", ["00:1A:2B:3C:4D:5E"]),
    ("mac", "设备地址 a4-5e-60-c1-22-9f", ["a4-5e-60-c1-22-9f"]),
    ("plate", "车牌号京A·12345停在楼下", ["A·12345"]),
    ("plate", "粤B D12345 的车主请挪车", ["D12345"]),
    ("plate", "沪AD23456", ["AD23456"]),
]

# What must survive unchanged (each is a false positive if any rule touches it)
HARD_NEGATIVES: list[str] = [
    "Version 1.2.3 costs 12.50 dollars.",
    "Upgrade to 10.15.7 or 2.0.0-rc1 first",
    "The meeting is at 12:30 on 2024-05-01 in room 402.",
    "It costs ¥1,299.00 or $189.99",
    "H2SO4 and C6H12O6 are on the exam",
    "We are ISO 9001 and ISO 27001 certified",
    "Order number 4111111111111112 has shipped.",
    "pi is 3.14159, e is 2.71828",
    "2026年12月6日下午3点见",
    "Room 1202, floor 12",
    "The score was 3-1 in the 90th minute",
    "What is 17 times 23?",
    "My name is not important",
    "我是学生",
    "I think this is Paris",
    "call me tomorrow",
    "Flight CA1234 leaves at 08:45",
    "NASA launched Apollo 11 in 1969",
    "一斤等于500克",
    "Temperature 36.6 degrees, pulse 72",
]

# rule name → the type it redacts (several rules may serve one type)
RULE_TYPE = {"email": "email", "cn_mobile": "phone", "phone_intl": "phone",
             "phone_national": "phone", "phone_digits": "phone", "cn_id": "cn_id",
             "card": "card", "iban": "iban", "api_key": "api_key", "bearer": "api_key",
             "jwt": "api_key", "private_key": "api_key", "secret_assignment": "api_key",
             "url_password": "api_key", "street_address": "address", "name_en": "name",
             "name_zh": "name", "gps": "gps", "ipv4": "ip", "ipv6": "ip", "mac": "mac",
             "cn_plate": "plate"}
_CORPUS_TYPE = {"phone_cn": "phone", "phone_us": "phone", "phone_eu": "phone",
                "id_cn": "cn_id", "bank_card": "card", "street_address": "address",
                "name_en": "name", "name_zh": "name", "cn_plate": "plate"}
"""The held-out corpora's type names → the names above."""


@dataclass(frozen=True)
class Item:
    """One labelled line: its type (``negative``: must come through unchanged), language, text
    and the secrets that must not survive."""

    type: str
    lang: str
    text: str
    secrets: tuple[str, ...] = ()


def load_heldout(name: str) -> list[Item]:
    """``a`` or ``b``: a corpus written by someone who had not seen the rules (``docs/data.md``
    says how each was used)."""
    path = Path(__file__).with_name(f"pii_heldout_{name}.jsonl")
    items = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        items.append(Item(type=_CORPUS_TYPE.get(row["type"], row["type"]), lang=row["lang"],
                          text=row["text"], secrets=tuple(row.get("secrets", ()))))
    return items


def typed_items() -> list[Item]:
    """``TYPED`` and ``HARD_NEGATIVES`` as items (written together with the rules)."""
    def lang(text: str) -> str:
        return "zh" if re.search(r"[\u4e00-\u9fff]", text) else "en"

    return [*(Item(type=_CORPUS_TYPE.get(t, "phone" if t.startswith("phone") else t),
                   lang=lang(text), text=text, secrets=tuple(secrets))
              for t, text, secrets in TYPED),
            *(Item(type="negative", lang=lang(text), text=text) for text in HARD_NEGATIVES)]


HELD_OUT: list[Item] = [*load_heldout("a"), *load_heldout("b")]


def _spans(text: str, needle: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in re.finditer(re.escape(needle), text)]


def _firings(redactor: Any, text: str) -> list[tuple[str, int, int]]:
    """Each rule's confirmed matches on the original text: (type, start, end)."""
    out = []
    for rule in redactor.rules:
        for match in rule.pattern.finditer(text):
            target = match.group(rule.group)
            if target is None or (rule.check is not None and not rule.check(target)):
                continue
            out.append((RULE_TYPE.get(rule.name, rule.name), *match.span(rule.group)))
    return out


def measure(redactor: Any, items: list[Item] | None = None) -> dict[str, dict[str, float]]:
    """Per type, over ``items`` (default: the typed corpus):

    - ``recall``: the share of lines of the type with every secret gone after redaction;
    - ``precision``: the share of the rules' firings for the type that touch a labelled secret
      (a firing on a negative, or on an unlabelled part of a line, is a false positive);
    - ``negatives_intact`` (under the key ``negative``): the share of negatives unchanged.
    """
    items = typed_items() if items is None else items
    lines: Counter[str] = Counter()
    clean: Counter[str] = Counter()
    fired: Counter[str] = Counter()
    true: Counter[str] = Counter()
    negatives = intact = 0
    for item in items:
        out = redactor.redact_text(item.text)
        secret_spans = [s for secret in item.secrets for s in _spans(item.text, secret)]
        for kind, start, end in _firings(redactor, item.text):
            fired[kind] += 1
            true[kind] += any(start < e and s < end for s, e in secret_spans)
        if item.type == "negative":
            negatives += 1
            intact += out == item.text
            continue
        lines[item.type] += 1
        clean[item.type] += all(secret not in out for secret in item.secrets)
    report = {kind: {"n": lines[kind], "recall": clean[kind] / lines[kind],
                     "precision": true[kind] / fired[kind] if fired[kind] else 1.0}
              for kind in sorted(lines)}
    report["negative"] = {"n": negatives, "recall": 1.0,
                          "precision": intact / negatives if negatives else 1.0}
    return report
