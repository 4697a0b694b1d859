"""Prometheus metrics of one server (its own registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["Metrics"]


class Metrics:
    def __init__(self) -> None:
        r = self.registry = CollectorRegistry()
        self.connections = Gauge("cowrite_connections", "Open WebSocket connections", registry=r)
        self.rooms = Gauge("cowrite_rooms", "Documents loaded in memory", registry=r)
        self.ops = Counter("cowrite_ops", "Ops persisted and broadcast", registry=r)
        self.frames = Counter("cowrite_frames", "Protocol frames received", ["type"], registry=r)
        self.errors = Counter("cowrite_errors", "Error frames sent, by code", ["code"], registry=r)
        self.internal_errors = Counter(
            "cowrite_internal_errors",
            "Bugs (unexpected exceptions) met while handling a frame, a JOIN or an edit: logged with a "
            "traceback, answered ERROR internal, the room reloaded from the store",
            registry=r,
        )
        self.divergences = Counter(
            "cowrite_divergences", "Clients whose text differed from the server's (DIGEST mismatch, RESYNC sent)", registry=r
        )
        self.commit_seconds = Histogram(
            "cowrite_commit_seconds",
            "From receiving a batch to releasing its ACK and broadcast (validation, merge, durable commit)",
            buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )

        self.fanout_up = Gauge(
            "cowrite_fanout_up",
            "1 while Redis fan-out is healthy (subscribed and every room caught up), 0 while rooms poll the store",
            registry=r,
        )
        self.fanout_published = Counter("cowrite_fanout_published", "Commit, comment and suggestion notices published to Redis", registry=r)
        self.fanout_received = Counter("cowrite_fanout_received", "Commit, comment and suggestion notices of other servers received", registry=r)
        self.fanout_errors = Counter("cowrite_fanout_errors", "Redis errors (each opens the breaker)", registry=r)
        self.fanout_gaps = Counter(
            "cowrite_fanout_gaps", "Log seqs seen out of order (a missed notice or a concurrent append): caught up", registry=r
        )
        self.catchup_entries = Counter(
            "cowrite_catchup_entries", "Log entries of other servers read back from the store and applied", registry=r
        )
        self.store_up = Gauge(
            "cowrite_store_up",
            "1 while the store answers (the store breaker is closed), 0 while it is open: nothing is acknowledged",
            registry=r,
        )
        self.store_up.set(1)
        self.store_breaker_opened = Counter(
            "cowrite_store_breaker_opened", "Times the store breaker opened (the store failed or stopped answering)", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
