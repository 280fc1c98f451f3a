# Production image: build with the Rust toolchain, run on slim Debian.
FROM rust:1-bookworm AS build
WORKDIR /src
# SAML signatures are checked by libxmlsec1 (bindings generated with libclang).
RUN apt-get update && apt-get install -y --no-install-recommends libxmlsec1-dev libxml2-dev libclang-dev pkg-config \
    && rm -rf /var/lib/apt/lists/*
COPY Cargo.toml Cargo.lock ./
# Build settings (SQLite compile options).
COPY .cargo .cargo
COPY migrations migrations
COPY access-model access-model
COPY src src
COPY tests tests
RUN cargo build --release --locked --bin idbridge

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl libxmlsec1 libxmlsec1-openssl libxml2 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/idbridge --create-home idbridge
COPY --from=build /src/target/release/idbridge /usr/local/bin/idbridge
USER idbridge
WORKDIR /var/lib/idbridge
ENV IDBRIDGE_LISTEN=0.0.0.0:8080 \
    IDBRIDGE_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["idbridge"]
CMD ["serve"]
