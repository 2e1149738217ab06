"""A stand-in provisioning target (an IdP admin API) for scripts/vault-local: logs what it
receives on stderr and answers 201."""
import http.server
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        sys.stderr.write(
            "target: %s %s authorization=%s body=%s\n"
            % (self.command, self.path, self.headers.get("authorization"), body.decode())
        )
        sys.stderr.flush()
        self.send_response(201)
        self.send_header("content-length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_PUT = do_POST
    do_PATCH = do_POST

    def log_message(self, *args) -> None:
        pass


http.server.HTTPServer(("127.0.0.1", int(sys.argv[1])), Handler).serve_forever()
