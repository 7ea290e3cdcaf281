# Herald's container image: built from Debian 12 packages only, runs as a non-root user with
# its state on /var/lib/herald (the Helm chart mounts a volume there).
#   docker build -t herald:0.1.0 .
FROM debian:12-slim AS build
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      cmake g++ make ninja-build pkg-config git ca-certificates \
      libcaf-dev librdkafka-dev librocksdb-dev prometheus-cpp-dev libcivetweb-dev libsimdjson-dev \
      nlohmann-json3-dev libyaml-cpp-dev libcli11-dev libspdlog-dev libfmt-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DHERALD_BUILD_TESTS=OFF \
      -DHERALD_BUILD_BENCH=OFF \
    && cmake --build build --target herald -j "$(nproc)"

FROM debian:12-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libcaf-core0.17 libcivetweb1 libfmt9 libgflags2.2 liblz4-1 libprometheus-cpp-core1.0 \
      librdkafka1 librocksdb7.8 libsasl2-2 libsimdjson14 libsnappy1v5 libspdlog1.10 libssl3 \
      libyaml-cpp0.7 libzstd1 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --gid 10001 herald && useradd --uid 10001 --gid 10001 --no-create-home herald \
    && mkdir -p /var/lib/herald /etc/herald && chown herald:herald /var/lib/herald
COPY --from=build /src/build/actors/herald /usr/local/bin/herald
USER 10001:10001
EXPOSE 9464
ENTRYPOINT ["herald"]
CMD ["run", "--config", "/etc/herald/config.yaml"]
