"""Upper tiers: an OpenAI-compatible chat client (DeepSeek by default), its circuit breaker,
dated prices and a cost ledger.

The Assistant escalates through :class:`ChatClient` / :class:`AsyncChatClient`; everything else
here is what those need to survive the real API and to account for it. See ``docs/cloud.md``.
"""

from edgesdk.cloud.breaker import CircuitBreaker
from edgesdk.cloud.client import AsyncChatClient, ChatClient
from edgesdk.cloud.core import Balance, BalanceInfo, ChatResult, TierClient
from edgesdk.cloud.pricing import CostLedger, LedgerTotals, PriceRow, PriceTable, estimate_tokens

DEEPSEEK_BASE_URL = "https://api.deepseek.com"

__all__ = [
    "DEEPSEEK_BASE_URL",
    "AsyncChatClient",
    "Balance",
    "BalanceInfo",
    "ChatClient",
    "ChatResult",
    "CircuitBreaker",
    "CostLedger",
    "LedgerTotals",
    "PriceRow",
    "PriceTable",
    "TierClient",
    "estimate_tokens",
]
