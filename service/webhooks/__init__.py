"""Webhooks after the Standard Webhooks specification: endpoints per tenant, signed deliveries with retries.

A transition that causes an event records one delivery per subscribed webhook in its own transaction
(`service.emit`); the delivery task is sent after commit, and a worker makes the attempts (worker.webhooks).
"""
