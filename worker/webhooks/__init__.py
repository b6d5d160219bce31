"""Webhook delivery attempts: the sending side of service.webhooks (which holds the rules)."""
