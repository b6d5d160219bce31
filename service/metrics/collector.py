"""Gauges and a histogram read from the database (and the broker) at each scrape: the state of the work, the
same whichever API process is scraped. Labels are states, kinds and queue names only, never tenant data."""

import logging
from collections.abc import Iterator
from datetime import datetime
from itertools import product

from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from service.db import session_scope
from service.metrics import repository
from service.models.states import DeliveryStatus, RunKind, RunStatus
from service.queue import queue_depths

logger = logging.getLogger(__name__)
PREFIX = "unlearn_audit"
DURATION_BUCKETS_S = (10, 30, 60, 120, 300, 600, 1800, 3600, 2 * 3600, 6 * 3600, 24 * 3600)


class WorkCollector(Collector):
    def __init__(self, database_url: str, broker_url: str):
        self.database_url = database_url
        self.broker_url = broker_url

    def collect(self) -> Iterator[Metric]:
        with session_scope(self.database_url) as session:
            yield runs_gauge(repository.runs_by_status_and_kind(session))
            yield deliveries_gauge(repository.deliveries_by_status(session))
            yield duration_histogram(repository.finished_run_times(session))
        yield self.queue_gauge()

    def queue_gauge(self) -> Metric:
        gauge = GaugeMetricFamily(f"{PREFIX}_queue_depth", "Messages waiting on the broker, by queue", labels=["queue"])
        try:
            depths = queue_depths(self.broker_url)
        except Exception as error:  # a broker that does not answer: no samples, and a line in the log
            logger.warning("metrics: the broker did not answer: %s", error)
            return gauge
        for queue, depth in depths.items():
            gauge.add_metric([queue], depth)
        return gauge


def runs_gauge(counts: list[tuple[str, str, int]]) -> Metric:
    gauge = GaugeMetricFamily(f"{PREFIX}_runs", "Runs by status and kind", labels=["status", "kind"])
    known = {(status, kind): count for status, kind, count in counts}
    for status, kind in product(RunStatus, RunKind):
        gauge.add_metric([status.value, kind.value], known.get((status.value, kind.value), 0))
    return gauge


def deliveries_gauge(counts: list[tuple[str, int]]) -> Metric:
    gauge = GaugeMetricFamily(
        f"{PREFIX}_webhook_deliveries", "Webhook deliveries by outcome (pending: still being tried)", labels=["outcome"]
    )
    known = dict(counts)
    for status in DeliveryStatus:
        gauge.add_metric([status.value], known.get(status.value, 0))
    return gauge


def duration_histogram(times: Iterator[tuple[str, datetime, datetime]]) -> Metric:
    """Seconds from a run's start to its end, by kind, over every finished run."""
    counts = {kind.value: [0] * (len(DURATION_BUCKETS_S) + 1) for kind in RunKind}
    sums = dict.fromkeys(counts, 0.0)
    for kind, started_at, finished_at in times:
        seconds = max(0.0, (finished_at - started_at).total_seconds())
        slot = next((i for i, bound in enumerate(DURATION_BUCKETS_S) if seconds <= bound), len(DURATION_BUCKETS_S))
        counts[kind][slot] += 1
        sums[kind] += seconds
    histogram = HistogramMetricFamily(
        f"{PREFIX}_run_duration_seconds", "Seconds from a run's start to its end, by kind", labels=["kind"]
    )
    for kind, slots in counts.items():
        bounds = [*map(str, DURATION_BUCKETS_S), "+Inf"]
        cumulative = [sum(slots[: i + 1]) for i in range(len(slots))]
        histogram.add_metric([kind], list(zip(bounds, cumulative, strict=True)), sums[kind])
    return histogram
