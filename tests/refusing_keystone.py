"""A Keystone that answers 401 to everything, version discovery included: the cloud whose
registration wedged keystoneauth's generic plugins (issue 7)."""

import http.server


class Refuses401(http.server.BaseHTTPRequestHandler):
    def answer(self):
        body = b'{"error": {"code": 401, "message": "The request you have made requires authentication."}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = answer

    def log_message(self, *args):
        pass
