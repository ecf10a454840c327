"""Network providers of market data: each fetches one series and raises ProviderError."""
