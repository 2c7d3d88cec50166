"""Delivery: channels (email, Slack, file, Apprise) chosen by config type, and the service that
fixes digests in the outbox and delivers them with retries (``service.DeliveryService``)."""
