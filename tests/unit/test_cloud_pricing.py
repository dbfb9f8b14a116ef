"""Dated prices, off-peak windows, request cost, the ledger and its daily budget."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from edgesdk.cloud import CostLedger, PriceTable, estimate_tokens
from edgesdk.cloud.pricing import PRICES_FILE
from edgesdk.errors import ConfigError
from edgesdk.types import Cost, Usage


def utc(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=timezone.utc)


USAGE = Usage(prompt_tokens=1_000_000, completion_tokens=1_000_000,
              prompt_cache_hit_tokens=400_000, prompt_cache_miss_tokens=600_000)


@pytest.fixture(scope="module")
def table() -> PriceTable:
    return PriceTable.load()


def test_shipped_table_is_valid_and_dated() -> None:
    raw = json.loads(PRICES_FILE.read_text())
    t = PriceTable.load()
    assert t.checked is not None and len(t.rows) == len(raw["prices"])
    assert {"deepseek-chat", "deepseek-reasoner"} <= set(t.models)
    assert {r.currency for r in t.rows} == {"USD", "CNY"}


def test_price_in_force_follows_dates(table: PriceTable) -> None:
    def miss(day: datetime, model: str = "deepseek-chat", cur: str = "USD") -> float:
        r = table.row(model, at=day, currency=cur)
        assert r is not None
        return r.cache_miss
    assert miss(utc(2025, 3, 1, 12)) == 0.27
    assert miss(utc(2025, 9, 10, 12)) == 0.56
    assert miss(utc(2026, 6, 1, 12)) == 0.28
    assert miss(utc(2025, 3, 1, 12), "deepseek-reasoner", "CNY") == 4.0
    assert table.row("deepseek-chat", at=utc(2024, 1, 1)) is None


def test_cost_from_usage_cache_hit_miss_output(table: PriceTable) -> None:
    c = table.cost(USAGE, model="deepseek-chat", at=utc(2025, 3, 1, 12))
    assert c.currency == "USD"
    assert c.amount == pytest.approx(0.4 * 0.07 + 0.6 * 0.27 + 1.10)
    c = table.cost(USAGE, model="deepseek-chat", at=utc(2025, 3, 1, 12), currency="CNY")
    assert c.currency == "CNY" and c.amount == pytest.approx(0.4 * 0.5 + 0.6 * 2 + 8)


def test_off_peak_window_crosses_midnight(table: PriceTable) -> None:
    peak = table.cost(USAGE, model="deepseek-reasoner", at=utc(2025, 3, 1, 12)).amount
    late = table.cost(USAGE, model="deepseek-reasoner", at=utc(2025, 3, 1, 17)).amount
    early = table.cost(USAGE, model="deepseek-reasoner", at=utc(2025, 3, 2, 0, 15)).amount
    after = table.cost(USAGE, model="deepseek-reasoner", at=utc(2025, 3, 2, 0, 45)).amount
    assert late == pytest.approx(peak * 0.25) and early == pytest.approx(peak * 0.25)
    assert after == pytest.approx(peak)
    chat = table.cost(USAGE, model="deepseek-chat", at=utc(2025, 3, 1, 17)).amount
    assert chat == pytest.approx(0.5 * table.cost(USAGE, model="deepseek-chat",
                                                  at=utc(2025, 3, 1, 12)).amount)
    # cancelled with V3.1
    assert table.cost(USAGE, model="deepseek-chat", at=utc(2025, 9, 10, 17)).amount == (
        table.cost(USAGE, model="deepseek-chat", at=utc(2025, 9, 10, 12)).amount)


def test_currency_fallback_and_unknown_models(table: PriceTable) -> None:
    c = table.cost(USAGE, model="deepseek-v4-flash", at=utc(2026, 6, 1), currency="USD")
    assert c.currency == "CNY" and c.amount > 0  # only a CNY price is known
    c = table.cost(USAGE, model="my-vllm-model", at=utc(2026, 6, 1))
    assert (c.amount, c.currency) == (0.0, "USD")


def test_servers_without_cache_fields_are_priced_as_all_miss(table: PriceTable) -> None:
    u = Usage(prompt_tokens=1_000_000, completion_tokens=0)
    assert table.cost(u, model="deepseek-chat", at=utc(2026, 6, 1)).amount == pytest.approx(0.28)


def test_estimate_and_token_rule(table: PriceTable) -> None:
    assert estimate_tokens("x" * 1000) == 300
    e = table.estimate(model="deepseek-chat", prompt_tokens=1000, max_output_tokens=500,
                       at=utc(2026, 6, 1))
    assert e.amount == pytest.approx((1000 * 0.28 + 500 * 0.42) / 1e6)


def test_bad_price_file_is_a_config_error(tmp_path: Path) -> None:
    p = tmp_path / "p.json"
    p.write_text('{"prices": [{"model": "x"}]}')
    with pytest.raises(ConfigError, match="price table"):
        PriceTable.load(p)


def test_ledger_totals_cache_share_daily_roll_and_budget() -> None:
    now = [utc(2026, 6, 1, 23, 0)]
    ledger = CostLedger(daily_budget={"USD": 0.01}, now=lambda: now[0])
    u = Usage(prompt_tokens=128, completion_tokens=10, prompt_cache_hit_tokens=64,
              prompt_cache_miss_tokens=64)
    ledger.record(usage=u, cost=Cost(amount=0.004, currency="USD"))
    ledger.record(usage=u, cost=Cost(amount=0.004, currency="USD"))
    ledger.record(usage=u, cost=Cost(amount=1.0, currency="CNY"))
    t = ledger.totals()
    assert t.requests == 3 and t.usage.prompt_tokens == 384
    assert t.cache_hit_share == pytest.approx(0.5)
    assert t.cost == {"USD": pytest.approx(0.008), "CNY": 1.0}
    assert ledger.remaining_today("USD") == pytest.approx(0.002)
    assert ledger.remaining_today("CNY") is None
    assert ledger.allows(Cost(amount=0.001)) and not ledger.allows(Cost(amount=0.005))
    now[0] += timedelta(hours=2)  # next UTC day: today's spend restarts, totals stay
    assert ledger.spent_today("USD") == 0.0 and ledger.allows(Cost(amount=0.005))
    assert ledger.totals().cost["USD"] == pytest.approx(0.008)
    ledger.reset()
    assert ledger.totals().requests == 0
