"""A fake Pesapal status endpoint for the IPN benchmark: every order is COMPLETED.

    python bench/fake_pesapal.py --port 8121 --amount 413000.00

Answers RequestToken and GetTransactionStatus in the real shapes (gateways.md A2, A8), for
tracking ids `trk-<n>` whose merchant reference is `BENCH-<n>`. Loopback only.
"""

import argparse
import json
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def make_handler(amount: float, currency: str):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in two writes; without this, Nagle's algorithm and the
        # client's delayed ACK add ~40 ms to every keep-alive response.
        disable_nagle_algorithm = True

        def log_message(self, *args):  # one line per request would slow the benchmark
            pass

        def _send(self, payload: dict, status: int = 200) -> None:
            body = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(length)
            if urlsplit(self.path).path.endswith("/api/Auth/RequestToken"):
                expiry = datetime.now(UTC) + timedelta(hours=1)
                self._send(
                    {
                        "token": "bench-token",
                        "expiryDate": expiry.strftime("%Y-%m-%dT%H:%M:%S.%f0Z"),
                        "error": None,
                        "status": "200",
                        "message": "Request processed successfully",
                    }
                )
            else:
                self._send({"error": {"code": "not_found"}, "status": "404"}, 404)

        def do_GET(self):
            parts = urlsplit(self.path)
            if not parts.path.endswith("/api/Transactions/GetTransactionStatus"):
                self._send({"error": {"code": "not_found"}, "status": "404"}, 404)
                return
            tracking_id = parse_qs(parts.query).get("orderTrackingId", [""])[0]
            number = tracking_id.removeprefix("trk-")
            self._send(
                {
                    "payment_method": "Visa",
                    "amount": amount,
                    "created_date": datetime.now(UTC).isoformat(),
                    "confirmation_code": f"CONF{number}",
                    "order_tracking_id": tracking_id,
                    "payment_status_description": "Completed",
                    "description": None,
                    "message": "Request processed successfully",
                    "payment_account": "476173**0010",
                    "call_back_url": "http://127.0.0.1/payments/pesapal/callback/",
                    "status_code": 1,
                    "merchant_reference": f"BENCH-{number}",
                    "payment_status_code": "",
                    "currency": currency,
                    "error": {"error_type": None, "code": None, "message": None},
                    "status": "200",
                }
            )

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8121)
    parser.add_argument("--amount", type=float, required=True)
    parser.add_argument("--currency", default="TZS")
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(args.amount, args.currency))
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
