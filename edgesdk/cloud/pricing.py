"""Money: dated price tables, the cost of one request, and a ledger with daily budgets.

DeepSeek has changed prices, currencies' relation, off-peak discounts and even what a model
alias points to several times a year, so prices are *data* (``prices.json`` beside this file,
one row per model, currency and start date) and never constants in code. A request is priced
at the instant it was made, from its reported usage: cache-hit prompt tokens, cache-miss prompt
tokens and output tokens (reasoning is billed as output). The ledger turns costs into running
totals and a per-UTC-day budget the routing policy can read as plain numbers.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date, datetime, time, timezone
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from edgesdk.errors import ConfigError
from edgesdk.types import Cost, Usage

PRICES_FILE = Path(__file__).with_name("prices.json")
PER_TOKENS = 1_000_000
TOKENS_PER_CHAR = 0.3
"""DeepSeek's rule of thumb for English text (Chinese is about 0.6)."""


def estimate_tokens(text: str) -> int:
    """Rough token count of ``text`` (0.3 token per character), for budgets before a request."""
    return math.ceil(len(text) * TOKENS_PER_CHAR)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


class OffPeak(BaseModel):
    """A daily UTC window in which every price is multiplied by ``multiplier``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    start_utc: time
    end_utc: time
    multiplier: float = Field(gt=0, le=1)

    def contains(self, at: datetime) -> bool:
        t = at.astimezone(timezone.utc).time()
        if self.start_utc <= self.end_utc:
            return self.start_utc <= t < self.end_utc
        return t >= self.start_utc or t < self.end_utc  # the window crosses midnight


class PriceRow(BaseModel):
    """Prices per 1M tokens of one model in one currency, from ``effective_from`` on."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    model: str
    effective_from: date = Field(alias="from")
    currency: str
    cache_hit: float = Field(ge=0)
    cache_miss: float = Field(ge=0)
    output: float = Field(ge=0)
    off_peak: OffPeak | None = None
    note: str = ""

    def multiplier(self, at: datetime) -> float:
        return self.off_peak.multiplier if self.off_peak and self.off_peak.contains(at) else 1.0


class PriceTable:
    """All known price rows; answers "what did this usage cost at that instant"."""

    def __init__(self, *, rows: Iterable[PriceRow], checked: date | None = None) -> None:
        self.rows: tuple[PriceRow, ...] = tuple(
            sorted(rows, key=lambda r: (r.model, r.currency, r.effective_from))
        )
        self.checked = checked

    @classmethod
    def load(cls, path: Path | str | None = None) -> PriceTable:
        """Read a price file (default: the one shipped with edgesdk)."""
        p = Path(path) if path is not None else PRICES_FILE
        try:
            raw = json.loads(p.read_text(encoding="utf-8"))
            rows = [PriceRow.model_validate(r) for r in raw["prices"]]
            checked = date.fromisoformat(raw["checked"]) if raw.get("checked") else None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"cannot read the price table {p}: {exc}. Fix the file or pass prices=None "
                "to use the table shipped with edgesdk"
            ) from exc
        return cls(rows=rows, checked=checked)

    @classmethod
    def default(cls) -> PriceTable:
        return _default_table()

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(sorted({r.model for r in self.rows}))

    def row(self, model: str, *, at: datetime | None = None, currency: str = "USD") -> (
        PriceRow | None
    ):
        """The row in force for ``model`` at ``at``, preferring ``currency``; None if unknown."""
        when = (at or utc_now()).astimezone(timezone.utc).date()
        name = model.lower()
        in_force: dict[str, PriceRow] = {}
        for r in self.rows:  # sorted by date, so later rows replace earlier ones
            if r.model == name and r.effective_from <= when:
                in_force[r.currency] = r
        if not in_force:
            return None
        if currency in in_force:
            return in_force[currency]
        return in_force.get("USD") or next(iter(sorted(in_force.items())))[1]

    def cost(self, usage: Usage, *, model: str, at: datetime | None = None,
             currency: str = "USD") -> Cost:
        """What ``usage`` cost. Unknown models (self-hosted) cost 0 in ``currency``."""
        when = at or utc_now()
        r = self.row(model, at=when, currency=currency)
        if r is None:
            return Cost(amount=0.0, currency=currency)
        hit = usage.prompt_cache_hit_tokens
        miss = usage.prompt_cache_miss_tokens
        if hit + miss == 0:
            miss = usage.prompt_tokens  # servers without cache fields: assume all missed
        amount = (hit * r.cache_hit + miss * r.cache_miss + usage.completion_tokens * r.output)
        return Cost(amount=amount * r.multiplier(when) / PER_TOKENS, currency=r.currency)

    def estimate(self, *, model: str, prompt_tokens: int, max_output_tokens: int,
                 cached_share: float = 0.0, at: datetime | None = None,
                 currency: str = "USD") -> Cost:
        """Upper-bound-ish cost of a request before sending it (for budget checks)."""
        hit = int(prompt_tokens * cached_share)
        usage = Usage(prompt_tokens=prompt_tokens, completion_tokens=max_output_tokens,
                      prompt_cache_hit_tokens=hit, prompt_cache_miss_tokens=prompt_tokens - hit)
        return self.cost(usage, model=model, at=at, currency=currency)


@lru_cache(maxsize=1)
def _default_table() -> PriceTable:
    return PriceTable.load()


class LedgerTotals(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    requests: int = 0
    usage: Usage = Usage()
    cost: dict[str, float] = Field(default_factory=dict)
    """Money spent, per currency."""
    today: dict[str, float] = Field(default_factory=dict)
    """Money spent in the current UTC day, per currency."""

    @property
    def cache_hit_share(self) -> float:
        """Share of prompt tokens the server's context cache served (0 when nothing sent)."""
        hit = self.usage.prompt_cache_hit_tokens
        total = hit + self.usage.prompt_cache_miss_tokens
        return hit / total if total else 0.0


class CostLedger:
    """Running totals of tier usage and money, with optional daily budgets per currency.

    Thread-safe: one ledger is shared by an Assistant's sync and async paths.
    """

    def __init__(self, *, daily_budget: Mapping[str, float] | None = None,
                 now: Callable[[], datetime] = utc_now) -> None:
        self.daily_budget: dict[str, float] = dict(daily_budget or {})
        self._now = now
        self._lock = threading.Lock()
        self._requests = 0
        self._usage = Usage()
        self._cost: dict[str, float] = {}
        self._day: date = now().astimezone(timezone.utc).date()
        self._today: dict[str, float] = {}
        self._calls_today = 0

    def _roll(self) -> None:
        day = self._now().astimezone(timezone.utc).date()
        if day != self._day:
            self._day, self._today, self._calls_today = day, {}, 0

    def calls_today(self) -> int:
        """Tier requests recorded since midnight UTC (for daily call budgets)."""
        with self._lock:
            self._roll()
            return self._calls_today

    def record(self, *, usage: Usage, cost: Cost) -> None:
        with self._lock:
            self._roll()
            u = self._usage
            self._usage = Usage(
                prompt_tokens=u.prompt_tokens + usage.prompt_tokens,
                completion_tokens=u.completion_tokens + usage.completion_tokens,
                prompt_cache_hit_tokens=u.prompt_cache_hit_tokens + usage.prompt_cache_hit_tokens,
                prompt_cache_miss_tokens=(u.prompt_cache_miss_tokens
                                          + usage.prompt_cache_miss_tokens),
                reasoning_tokens=u.reasoning_tokens + usage.reasoning_tokens,
            )
            self._requests += 1
            self._calls_today += 1
            c = cost.currency
            self._cost[c] = self._cost.get(c, 0.0) + cost.amount
            self._today[c] = self._today.get(c, 0.0) + cost.amount

    def totals(self) -> LedgerTotals:
        with self._lock:
            self._roll()
            return LedgerTotals(requests=self._requests, usage=self._usage,
                                cost=dict(self._cost), today=dict(self._today))

    def spent_today(self, currency: str = "USD") -> float:
        with self._lock:
            self._roll()
            return self._today.get(currency, 0.0)

    def remaining_today(self, currency: str = "USD") -> float | None:
        """Budget left today in ``currency``; None when no budget is set for it."""
        budget = self.daily_budget.get(currency)
        if budget is None:
            return None
        return max(0.0, budget - self.spent_today(currency))

    def allows(self, estimate: Cost) -> bool:
        """Whether spending ``estimate`` now stays within today's budget."""
        left = self.remaining_today(estimate.currency)
        return left is None or estimate.amount <= left

    def reset(self) -> None:
        with self._lock:
            self._requests, self._usage, self._cost, self._today = 0, Usage(), {}, {}
