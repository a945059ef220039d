"""Traefik access log in JSON (``accessLog.format: json``).

Field names per Traefik's docs (doc.traefik.io/traefik/observability/access-logs/): StartUTC,
StartLocal, ClientHost, ClientAddr, ClientUsername, RequestMethod, RequestHost, RequestPath,
RequestProtocol, RequestContentSize, DownstreamStatus, DownstreamContentSize, OriginStatus,
Duration (nanoseconds), RouterName, ServiceName, and kept headers as ``request_<Name>``.
"""

from __future__ import annotations

from forensics.formats.jsonmap import Field, JsonMapFormat

FORMAT = JsonMapFormat(
    name="traefik_json",
    description="Traefik access log, JSON format (StartUTC, ClientHost, RequestPath, "
    "DownstreamStatus, Duration in ns …).",
    example='{"ClientAddr":"203.0.113.9:52654","ClientHost":"203.0.113.9","ClientPort":"52654",'
    '"ClientUsername":"-","DownstreamContentSize":1832,"DownstreamStatus":200,'
    '"Duration":12500000,"OriginContentSize":1832,"OriginDuration":11000000,'
    '"OriginStatus":200,"RequestAddr":"api.example.com","RequestContentSize":0,'
    '"RequestCount":42,"RequestHost":"api.example.com","RequestMethod":"GET",'
    '"RequestPath":"/api/v2/referrals/51234","RequestPort":"-","RequestProtocol":"HTTP/1.1",'
    '"RequestScheme":"https","RouterName":"api@docker","ServiceName":"api@docker",'
    '"StartLocal":"2024-03-12T11:00:00.123456789+01:00","StartUTC":"2024-03-12T10:00:00.123456789Z",'
    '"entryPointName":"websecure","level":"info","msg":"","time":"2024-03-12T11:00:00+01:00"}',
    signature=(("RequestMethod",), ("DownstreamStatus",), ("StartUTC", "StartLocal")),
    fields=(
        # StartLocal (the same instant with the server's offset) stays in extra
        Field("ts", ("StartUTC", "StartLocal"), "time", drop="used"),
        Field("client_ip", ("ClientHost",)),
        Field("principal", ("ClientUsername",)),
        Field("method", ("RequestMethod",)),
        Field("host", ("RequestHost",)),
        Field("_target", ("RequestPath",)),
        Field("protocol", ("RequestProtocol",)),
        Field("status", ("DownstreamStatus",), "int"),
        Field("bytes_sent", ("DownstreamContentSize",), "int"),
        Field("bytes_received", ("RequestContentSize",), "int"),
        Field("duration_ms", ("Duration",), "ns"),
        Field("user_agent", ("request_User-Agent",)),
        Field("referer", ("request_Referer",)),
        Field("forwarded_for", ("request_X-Forwarded-For",)),
        Field("request_id", ("request_X-Request-Id",)),
    ),
)
