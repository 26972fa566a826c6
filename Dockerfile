# srunx-bot image: `bot serve` as a non-root user; config and state are volumes.
#   docker build -t srunx-bot .
#   Socket Mode (default):
#     docker run -d --name srunx-bot -e SLACK_BOT_TOKEN -e SLACK_APP_TOKEN \
#       -v $PWD/srunx-bot.yaml:/config/srunx-bot.yaml:ro \
#       -v $HOME/.ssh/srunx:/home/srunx/.ssh:ro -v srunx-state:/state srunx-bot
#   HTTP mode:
#     docker run -d --name srunx-bot -e SLACK_BOT_TOKEN -e SLACK_SIGNING_SECRET -p 3000:3000 \
#       -v $PWD/srunx-bot.yaml:/config/srunx-bot.yaml:ro \
#       -v $HOME/.ssh/srunx:/home/srunx/.ssh:ro -v srunx-state:/state \
#       srunx-bot serve --http --port 3000
FROM python:3.11-slim

# openssh-client: ssh-keyscan and ssh-keygen for managing known_hosts and keys in the volume.
RUN apt-get update \
    && apt-get install -y --no-install-recommends openssh-client \
    && rm -rf /var/lib/apt/lists/* \
    && pip install --no-cache-dir uv

WORKDIR /app
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
# Dependencies first (a layer that changes only with the lock file), then the project.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY bot/ bot/
COPY templates/ templates/
COPY manifest.yaml srunx-bot.example.yaml ./
RUN uv sync --frozen --no-dev

RUN useradd --create-home --uid 10001 srunx \
    && mkdir -p /config /state \
    && chown -R srunx:srunx /app /state
ENV SRUNX_BOT_CONFIG=/config/srunx-bot.yaml \
    SRUNX_BOT_STATE=/state \
    PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1
VOLUME ["/config", "/state"]
USER srunx
EXPOSE 3000
ENTRYPOINT ["bot"]
CMD ["serve"]
