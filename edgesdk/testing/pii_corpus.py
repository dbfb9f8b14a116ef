"""An English + Chinese corpus of personal data, for tests and for checking a custom Redactor.

Each entry: (text, [secrets that must not survive redaction]). Shared by the unit test (text
redaction) and the integration test (nothing reaches the outbox file or the ingest server).
"""

from __future__ import annotations

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
