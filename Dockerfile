# srunx-bot image: `bot serve` as a non-root user (srunx, uid 10001); config and state are
# volumes, Slack tokens come from the environment only.
#
#   docker build -t srunx-bot .
#
#   Socket Mode (default; no public URL needed):
#     docker run -d --name srunx-bot -e SLACK_BOT_TOKEN -e SLACK_APP_TOKEN \
#       -v $PWD/srunx-bot.yaml:/config/srunx-bot.yaml:ro \
#       -v $HOME/.ssh/srunx:/home/srunx/.ssh:ro -v srunx-state:/state srunx-bot
#
#   HTTP mode (Slack must reach https://<public address>/slack/events, proxied to port 3000):
#     docker run -d --name srunx-bot -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET \
#       -v $PWD/srunx-bot.yaml:/config/srunx-bot.yaml:ro \
#       -v $HOME/.ssh/srunx:/home/srunx/.ssh:ro -v srunx-state:/state \
#       -p 3000:3000 srunx-bot serve --http --port 3000
#
#   Check the config, the Slack token and the SSH logins first: the same `docker run` with
#   --rm instead of -d --name, and `check` after the image name.
FROM python:3.11-slim

# openssh-client: ssh-keygen / ssh-keyscan for the keys and known_hosts users mount in.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir uv

WORKDIR /app
# Use the image's Python (never download one); copy files out of uv's cache into .venv.
ENV UV_PYTHON_DOWNLOADS=never UV_LINK_MODE=copy UV_COMPILE_BYTECODE=1

# Dependencies first: this layer changes only with the lock file.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project

# Then the project itself (installed editable: the built-in job templates are found in
# /app/templates next to /app/bot).
COPY bot/ bot/
COPY templates/ templates/
COPY manifest.yaml srunx-bot.example.yaml ./
RUN uv sync --frozen --no-dev

RUN useradd --create-home --uid 10001 --user-group srunx \
    && mkdir -p /config && install -d -m 700 -o srunx -g srunx /state \
    && chown -R srunx:srunx /app

ENV SRUNX_BOT_CONFIG=/config/srunx-bot.yaml \
    SRUNX_BOT_STATE=/state \
    PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1
VOLUME ["/config", "/state"]
USER srunx
# HTTP mode only (`serve --http --port 3000`); Socket Mode needs no open port.
EXPOSE 3000
ENTRYPOINT ["bot"]
CMD ["serve"]
