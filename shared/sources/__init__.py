"""Where evidence comes from: market data and news providers, and the factory that picks them."""
