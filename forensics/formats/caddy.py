"""Caddy JSON access logs (``log`` directive, ``http.log.access*`` loggers).

Fields per Caddy's docs (caddyserver.com/docs/caddyfile/directives/log): ``ts`` epoch seconds,
``request{remote_ip, remote_port, client_ip, proto, method, host, uri, headers, tls}``,
``user_id``, ``duration`` (seconds), ``size``, ``status``, ``bytes_read``, ``resp_headers``.
Caddy's other log records (start-up, admin, tls …) in the same stream are NOT_AN_ENTRY rejects.
"""

from __future__ import annotations

from forensics.formats.jsonmap import Field, JsonMapFormat

FORMAT = JsonMapFormat(
    name="caddy",
    description="Caddy JSON access log (http.log.access loggers); other Caddy records and "
    "docker-compose prefixes are handled.",
    example='{"level":"info","ts":1716723772.6014807,"logger":"http.log.access.log17",'
    '"msg":"handled request","request":{"remote_ip":"10.5.1.1","remote_port":"38574",'
    '"client_ip":"10.10.10.117","proto":"HTTP/2.0","method":"GET","host":"mirrors.example.net",'
    '"uri":"/gentoo/distfiles/x.tar.xz","headers":{"User-Agent":["curl/8.4.0"]}},'
    '"bytes_read":0,"user_id":"","duration":0.017557019,"size":3768,"status":200,'
    '"resp_headers":{"Server":["Caddy"]}}',
    signature=(("request.uri",), ("status",), ("ts",)),
    entry_key="logger",
    entry_values=("http.log.access",),
    member=("ts", "msg"),
    what="Caddy log record",
    detail=("logger", "msg"),
    fields=(
        Field("ts", ("ts",), "time"),
        # client_ip is the client after trusted proxies; remote_ip (the peer) stays in extra
        Field("client_ip", ("request.client_ip", "request.remote_ip"), "ip", drop="used"),
        Field("method", ("request.method",)),
        Field("host", ("request.host",)),
        Field("_target", ("request.uri",)),
        Field("protocol", ("request.proto",)),
        Field("status", ("status",), "int"),
        Field("bytes_sent", ("size",), "int"),
        Field("bytes_received", ("bytes_read",), "int"),
        Field("duration_ms", ("duration",), "s"),
        Field("user_agent", ("request.headers.User-Agent[0]",)),
        Field("referer", ("request.headers.Referer[0]",)),
        Field("forwarded_for", ("request.headers.X-Forwarded-For[0]",)),
        Field("request_id", ("request.headers.X-Request-Id[0]",)),
        Field("principal", ("user_id",)),
    ),
)
