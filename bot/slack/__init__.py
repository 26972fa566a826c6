"""The Slack surface: thin listeners and Block Kit rendering over bot.core."""
