"""Following jobs and GPUs: job threads (the monitor), `watch`/`unwatch`/`watch mine`, and GPU
watches. Its store is bot/core/watches/store.py; it posts through the ports' outboxes."""
