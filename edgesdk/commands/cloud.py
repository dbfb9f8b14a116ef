"""``edgesdk cloud balance | models | prices``: look at an upper tier without asking it anything.

Checking the key, the balance and the model list before a demo (or in a support call) should not
need a Python prompt. The URL and key come from the same settings the Assistant uses
(``EDGESDK_CLOUD_BASE_URL``, ``DEEPSEEK_API_KEY``), so what works here works there.
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from edgesdk.cloud import ChatClient


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("cloud", help="balance, models and prices of the cloud tier")
    csub = parser.add_subparsers(dest="cloud_command", metavar="ACTION", required=True)
    for name, handler, text in (("balance", _balance, "show the account balance"),
                                ("models", _models, "list the models the tier serves")):
        p = csub.add_parser(name, help=text)
        p.add_argument("--cloud-url", default=None,
                       help="base URL (default: EDGESDK_CLOUD_BASE_URL or DeepSeek)")
        p.add_argument("--deadline", type=float, default=15.0, metavar="S",
                       help="give up after S seconds (default 15)")
        p.add_argument("--json", action="store_true", help="print JSON")
        p.set_defaults(handler=handler)
    p_prices = csub.add_parser("prices", help="show the dated price table in force")
    p_prices.add_argument("--at", default=None, metavar="YYYY-MM-DD",
                          help="the day to price (default: today, UTC)")
    p_prices.add_argument("--json", action="store_true", help="print JSON")
    p_prices.set_defaults(handler=_prices)


def _client(args: argparse.Namespace) -> ChatClient:
    from edgesdk.cloud import ChatClient
    from edgesdk.config import load_settings

    settings = load_settings(cloud_base_url=args.cloud_url)
    return ChatClient(base_url=settings.cloud_base_url, api_key=settings.deepseek_api_key,
                      model=settings.cloud_model, max_retries=0)


def _balance(args: argparse.Namespace) -> int:
    with _client(args) as client:
        balance = client.balance(deadline=time.monotonic() + args.deadline)
    if args.json:
        print(balance.model_dump_json(indent=2))
        return 0
    print(f"available: {'yes' if balance.is_available else 'no'}")
    for info in balance.balance_infos:
        print(f"{info.currency}: {info.total_balance} (granted {info.granted_balance}, "
              f"topped up {info.topped_up_balance})")
    return 0 if balance.is_available else 1


def _models(args: argparse.Namespace) -> int:
    with _client(args) as client:
        ids = client.models(deadline=time.monotonic() + args.deadline)
    print(json.dumps(ids, indent=2) if args.json else "\n".join(ids))
    return 0


def _prices(args: argparse.Namespace) -> int:
    from datetime import datetime, timezone

    from edgesdk.cloud import PriceTable

    table = PriceTable.default()
    at = (datetime.fromisoformat(args.at).replace(tzinfo=timezone.utc) if args.at
          else datetime.now(timezone.utc))
    rows = [r for m in table.models for c in ("USD", "CNY")
            if (r := table.row(m, at=at, currency=c)) is not None and r.currency == c]
    if args.json:
        print(json.dumps([r.model_dump(mode="json", by_alias=True) for r in rows], indent=2))
        return 0
    print(f"prices per 1M tokens in force on {at.date()} (table checked {table.checked})")
    print(f"{'model':<20} {'from':<11} {'cur':<4} {'hit':>7} {'miss':>7} {'output':>7}  off-peak")
    for r in rows:
        off = (f"{r.off_peak.start_utc:%H:%M}-{r.off_peak.end_utc:%H:%M} UTC x"
               f"{r.off_peak.multiplier:g}" if r.off_peak else "-")
        print(f"{r.model:<20} {r.effective_from!s:<11} {r.currency:<4} {r.cache_hit:>7g} "
              f"{r.cache_miss:>7g} {r.output:>7g}  {off}")
    return 0
