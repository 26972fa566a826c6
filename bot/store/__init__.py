"""The bot's state behind the storage port (bot/store/port.py). TinyDB-format files are the
embedded default (bot/store/tiny.py); nothing outside this package touches TinyDB."""
