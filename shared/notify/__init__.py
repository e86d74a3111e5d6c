"""Webhook notifications: who may receive one (`addresses`), what it says (`payload`), how it is
signed (`signing`) and how it is delivered (`delivery`)."""
