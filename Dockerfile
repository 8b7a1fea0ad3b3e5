# The discovery service on the official Deno image, as a non-root user, in production mode.
ARG DENO_VERSION=2.9.6
FROM denoland/deno:${DENO_VERSION}

WORKDIR /app
# Dependencies first, in their own layer: it is rebuilt only when deno.json or deno.lock change.
COPY deno.json deno.lock ./
COPY generated/ generated/
COPY src/ src/
COPY scripts/ scripts/
RUN deno install --frozen --entrypoint src/main.ts scripts/token.ts scripts/keys_rewrap.ts

COPY openapi.yaml ./
RUN chown -R deno:deno /app
USER deno

ENV HOST=0.0.0.0 \
    PORT=8080 \
    MATCHER_ENV=production \
    MATCHER_DATA_DIR=/app/.matcher
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:' + (Deno.env.get('PORT') ?? '8080') + '/health'); Deno.exit(r.ok ? 0 : 1)"]
CMD ["deno", "task", "start"]
