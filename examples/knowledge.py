"""The device's knowledge, offline: an app's documents answered on the device with their
source, a cloud answer kept and reused for a paraphrase, and a fleet pack built, signed,
pulled and used — with the stand-in cloud on 127.0.0.1 and the real MiniLM embeddings.

    python examples/knowledge.py
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import httpx

from edgesdk import Answer, Assistant
from edgesdk.cloud.client import ChatClient
from edgesdk.cloud.tier import build_tier
from edgesdk.data.fleet import parquet_files
from edgesdk.devices import get_profile
from edgesdk.knowledge.base import Knowledge
from edgesdk.knowledge.packs import build_pack, generate_keys, pull_pack
from edgesdk.testing.ingest import IngestServer
from edgesdk.testing.knowledge_sets import docs_dir
from edgesdk.testing.responders import ScriptedResponder, ToolCallingResponder
from edgesdk.testing.standin import StandIn

ANSWERS = {"capital of australia": "Canberra is the capital of Australia.",
           "wrote pride and prejudice": "Jane Austen wrote Pride and Prejudice."}


def show(a: Answer) -> None:
    where = ", ".join(f"{c.kind}: {Path(c.source).name if c.kind == 'document' else c.title}"
                      for c in a.citations)
    print(f"  {a.question!r}\n    -> {a.text!r}  [{a.tier}/{a.source}]"
          + (f"  cites {where}" if where else ""))


def main() -> None:
    home = Path(tempfile.mkdtemp(prefix="edgesdk-knowledge-"))
    responder = ToolCallingResponder(ScriptedResponder(answers=ANSWERS))
    with StandIn(responder=responder) as cloud, \
            IngestServer(parquet_dir=home / "parquet") as ingest:
        def tier() -> ChatClient:  # an assistant closes its tiers: each gets its own client
            return build_tier(name="cloud", tier="cloud", base_url=cloud.url,
                              model="deepseek-chat", api_key=None)

        phone = get_profile("phone")
        knowledge = Knowledge(home / "knowledge", embedder_id=phone.knowledge_embedder,
                              max_chunks=phone.knowledge_chunks,
                              max_learned=phone.learned_answers)  # kept here, not in your home
        knowledge.add([docs_dir("en"), docs_dir("zh")])
        print("1. The app's documents, on the device:")
        with Assistant(profile="phone", tiers=[tier()], knowledge=knowledge) as a:
            for q in ("How much is a day pass at Ironworks?",
                      "What time does Café Lumen open on Saturday?"):
                show(a.ask(q))
            print("2. A cloud answer kept, then reused for a paraphrase:")
            show(a.ask("What is the capital of Australia?"))
            show(a.ask("australia's capital?"))

        print("3. A fleet pack: uploads -> Parquet -> DuckDB -> signed -> pulled -> used")
        for device in ("a", "b", "c"):
            record = {"id": device, "kind": "interaction", "created_at": 1768478400.0,
                      "payload": {"question": "Who wrote Pride and Prejudice?",
                                  "answer": ANSWERS["wrote pride and prejudice"],
                                  "tier": "cloud", "escalated": True, "declined": False}}
            httpx.post(f"{ingest.url}/v1/records", content=json.dumps(record),
                       headers={"X-EdgeSDK-Device": device}).raise_for_status()
        private, public = generate_keys()
        knowledge = Knowledge(home / "knowledge", embedder_id=phone.knowledge_embedder,
                              max_chunks=phone.knowledge_chunks,
                              max_learned=phone.learned_answers)
        with Assistant(profile="phone", tiers=[tier()], knowledge=knowledge) as a:
            assert a.knowledge is not None
            ingest.pack = build_pack(parquet_files(home / "parquet"),
                                     embedder=a.knowledge.embedder,
                                     embedder_id=a.knowledge.embedder_id, private_key=private,
                                     version="example-1")
            pack = pull_pack(f"{ingest.url}/v1/packs/latest", learned=a.knowledge.learned,
                             public_key=public, embedder_id=a.knowledge.embedder_id)
            print(f"  pulled pack {pack.version}: {len(pack.entries)} answer(s)")
            show(a.ask("Who wrote Pride and Prejudice?"))


if __name__ == "__main__":
    main()
