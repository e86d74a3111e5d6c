"""The two agents (Quant Analyst, Investment Strategist): the writer protocol, the offline
rules, the model-backed writer and its client, grounding and the confidence cap."""
