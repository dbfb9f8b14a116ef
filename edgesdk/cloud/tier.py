"""One factory for an upper tier, so the Assistant's wiring does not repeat client defaults.

Every tier gets its own circuit breaker (named after the tier, so its error messages say which
one is cooling down) and the shared dated price table; the returned client satisfies the
``TierClient`` protocol the Assistant escalates through.
"""

from __future__ import annotations

import httpx
from pydantic import SecretStr

from edgesdk.cloud.breaker import CircuitBreaker
from edgesdk.cloud.client import ChatClient
from edgesdk.cloud.pricing import CostLedger, PriceTable
from edgesdk.types import Tier


def build_tier(*, name: str, tier: Tier, base_url: str, model: str,
               api_key: SecretStr | None, max_retries: int = 2,
               breaker: CircuitBreaker | None = None, prices: PriceTable | None = None,
               currency: str = "USD", ledger: CostLedger | None = None,
               transport: httpx.BaseTransport | None = None) -> ChatClient:
    return ChatClient(
        name=name, tier=tier, base_url=base_url, model=model, api_key=api_key,
        max_retries=max_retries, breaker=breaker or CircuitBreaker(name=name),
        prices=prices, currency=currency, ledger=ledger, transport=transport,
    )
