"""The Slack surface: thin listeners over bot.core; drawing replies is bot.render's."""
