"""What the API tests submit (a valid spec over models under the test's model root) and what reaches the
real broker's queues."""

from pathlib import Path

from kombu import Connection

from tests.tiny_world import make_bundle


def spec_for(model_root: Path, **overrides) -> dict:
    spec = {
        "target": {"model": str(model_root / "target")},
        "unlearned": [{"name": "ga", "model": str(model_root / "ga")}],
        "corpus": make_bundle().to_document(),
        "precisions": [{"method": "full"}, {"method": "rtn", "bits": 4, "group_size": 32}, {"method": "bnb_int8"}],
        "metrics": ["verbmem_f", "knowmem_f", "collision"],
        "limits": {"max_items": 4},
    }
    return {**spec, **overrides}


def queued_messages(broker_url: str, queue: str) -> list[tuple[str, list]]:
    """Every message waiting on a queue of the real broker: (task name, args)."""
    messages = []
    with Connection(broker_url) as connection:
        simple = connection.SimpleQueue(queue)
        while True:
            try:
                message = simple.get(timeout=0.5)
            except simple.Empty:
                break
            messages.append((message.headers["task"], message.decode()[0]))
            message.ack()
        simple.close()
    return messages
