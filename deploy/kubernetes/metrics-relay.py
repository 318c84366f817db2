"""Serves sproutd's GET /metrics, and nothing else, to Prometheus.

sproutd's HTTP front door asks every non-loopback peer for an AWS SigV4
signature, /metrics included (docs/http.md), and Prometheus cannot sign a
scrape. This relay runs beside sproutd in its pod, fetches /metrics over
the pod's loopback (where sproutd needs no signature) and answers it on the
pod's address. Every other path is 404 here: relaying the Lambda API would
hand unsigned callers what sproutd keeps for signed ones.

usage: metrics-relay.py LISTEN_PORT UPSTREAM_URL
"""

import http.server
import sys
import urllib.error
import urllib.request

UPSTREAM_TIMEOUT_S = 10


class MetricsRelay(http.server.BaseHTTPRequestHandler):
    upstream = ""

    def do_GET(self):  # noqa: N802 (the name http.server dispatches to)
        if self.path != "/metrics":
            self._answer(404, "text/plain", b"only /metrics is relayed\n")
            return
        try:
            with urllib.request.urlopen(self.upstream, timeout=UPSTREAM_TIMEOUT_S) as reply:
                body = reply.read()
                content_type = reply.headers.get("Content-Type", "text/plain")
                self._answer(reply.status, content_type, body)
        except (urllib.error.URLError, OSError) as error:
            # sproutd down or draining: the scrape fails visibly ("up" 0).
            self._answer(502, "text/plain", f"sproutd: {error}\n".encode())

    def _answer(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 (http.server's name)
        pass  # a log line per scrape is noise; failures show in Prometheus


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: metrics-relay.py LISTEN_PORT UPSTREAM_URL")
    MetricsRelay.upstream = sys.argv[2]
    server = http.server.ThreadingHTTPServer(("", int(sys.argv[1])), MetricsRelay)
    print(f"metrics-relay: serving on port {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
