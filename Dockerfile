# pinger in a container: built in one stage, run in a small one as a non-root user that holds only cap_net_raw.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY benches benches
COPY schema.sql ./
RUN cargo build --release --locked --bin pinger

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates libcap2-bin \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/pinger --create-home pinger \
    && mkdir -p /var/spool/pinger /var/cache/pinger && chown pinger: /var/spool/pinger /var/cache/pinger
COPY --from=build /src/target/release/pinger /usr/local/bin/pinger
COPY hosts /usr/share/pinger/hosts
RUN setcap cap_net_raw+ep /usr/local/bin/pinger
USER pinger
WORKDIR /var/lib/pinger
ENTRYPOINT ["/usr/local/bin/pinger"]
CMD ["--every", "5m", "--count", "15000", "--format", "none", "--spool-dir", "/var/spool/pinger", "--hosts-cache", "/var/cache/pinger/hosts"]
