"""In-the-moment follow-up: survey responses received by webhook, acted on in seconds."""
