# syntax=docker/dockerfile:1
# One image with every armorsmith program; the Helm chart (deploy/helm/armorsmith) runs
# /usr/local/bin/armorsmith-{probe,merger,builder,status} from it.
#
#   docker build -t armorsmith:0.1.0 .
#
# The build stage is the release the project is developed and tested on (Debian 12,
# bookworm), so the binaries link against the same library versions the tests ran with.
# integration-tests/test_helm.py checks this file: the release, every COPY source, the
# binaries, and that every shared library the binaries load comes from a package the
# runtime stage installs.

FROM debian:bookworm AS build
WORKDIR /src
# The dependency list first, so this layer survives source changes.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN bash scripts/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*
COPY . .
# The BPF programs' vmlinux.h is generated from /sys/kernel/btf/vmlinux of the build
# host; the objects are CO-RE, so they load on any kernel with BTF.
RUN bash scripts/build.sh

FROM debian:bookworm-slim AS runtime
# Exactly the packages of the shared libraries the programs load (`ldd` on each binary,
# `dpkg -S` on each library), nothing else; ca-certificates for TLS to Kafka, PostgreSQL
# and the Kubernetes API.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      ca-certificates \
      libbpf1 \
      libbrotli1 \
      libc6 \
      libcom-err2 \
      libcurl4 \
      libelf1 \
      libffi8 \
      libgmp10 \
      libgnutls30 \
      libgssapi-krb5-2 \
      libhogweed6 \
      libidn2-0 \
      libjansson4 \
      libk5crypto3 \
      libkeyutils1 \
      libkrb5-3 \
      libkrb5support0 \
      libldap-2.5-0 \
      liblz4-1 \
      libmicrohttpd12 \
      libnettle8 \
      libnghttp2-14 \
      libp11-kit0 \
      libpq5 \
      libprotobuf-c1 \
      libpsl5 \
      librdkafka1 \
      librtmp1 \
      libsasl2-2 \
      libseccomp2 \
      libssh2-1 \
      libssl3 \
      libtasn1-6 \
      libunistring2 \
      libyaml-0-2 \
      libzstd1 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
# The probe runs as root in its pod (BPF, the host's audit log); every other program runs
# as this user (the chart's runAsUser).
RUN groupadd --system --gid 10001 armorsmith \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin armorsmith
COPY --from=build /src/build/bin/armorsmith /src/build/bin/armorsmith-probe \
     /src/build/bin/armorsmith-merger /src/build/bin/armorsmith-builder \
     /src/build/bin/armorsmith-status /usr/local/bin/
# `armorsmith advise` reads the Policy Advisor rule catalogue.
COPY --from=build /src/data/policy-advisor/built-in-rules.json /usr/local/share/armorsmith/policy-advisor/built-in-rules.json
ENV ARMORSMITH_ADVISOR_RULES=/usr/local/share/armorsmith/policy-advisor/built-in-rules.json
USER 10001:10001
CMD ["armorsmith", "--help"]
