"""Notifications: an outbox written with the action that causes it, delivered by workers."""
