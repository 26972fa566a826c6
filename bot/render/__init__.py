"""Replies drawn for people, shared by both surfaces: plain text (`text`: the console, and
every Slack message's fallback) and Slack's Block Kit (`blocks`, `home_tab`, `modals`).
Imports only the core's data (models, replies); never a surface."""
