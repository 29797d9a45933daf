# tps-exporter: runs as a non-root user with no capabilities. ICMP uses unprivileged datagram
# sockets, which the container enables with the namespaced sysctl
#   net.ipv4.ping_group_range="0 2147483647"   (docker-compose.yml sets it)
# Without that sysctl, grant only NET_RAW instead (cap_add: [NET_RAW]) for raw sockets.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY exporter ./exporter
RUN pip install --no-cache-dir . \
    && useradd --system --uid 10001 --no-create-home --shell /usr/sbin/nologin tps
COPY tps-exporter.yml ./
COPY targets ./targets

USER 10001:10001
EXPOSE 9811
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9811/-/healthy', timeout=4)"]
ENTRYPOINT ["tps-exporter"]
CMD ["--config.file=/app/tps-exporter.yml", "--web.listen-address=:9811"]
