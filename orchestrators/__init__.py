"""Orchestrators: plain generators that only yield Durable tasks."""
