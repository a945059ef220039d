"""Envoy's default access log format (text).

From the Envoy documentation ("Access logging", Default Format String):
``[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE%
%RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%
"%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%"
"%UPSTREAM_HOST%"``. START_TIME is UTC with a ``Z``. This layout logs no client address:
``client_ip`` stays NULL and the X-Forwarded-For header goes to ``forwarded_for``. Operators
without a column stay in ``extra`` under their own names (``RESPONSE_FLAGS``, ``UPSTREAM_HOST``,
``RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)``). Istio's longer default is ``envoy_istio``.
"""

from forensics.formats.linefmt import LineFormat

DEFAULT = (
    '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" '
    "%RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "
    '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" '
    '"%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%"'
)

FORMAT = LineFormat(
    name="envoy",
    description='Envoy\'s default text access log (`[%START_TIME%] "%REQ(:METHOD)% …" … "%UPSTREAM_HOST%"`).',
    # the documentation's example line
    example='[2016-04-15T20:17:00.310Z] "POST /api/v1/locations HTTP/2" 204 - 154 0 226 100 "10.0.35.28" '
    '"nsq2http" "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2" "locations" "tcp://10.0.2.1:80"',
    layout_text=DEFAULT,
    priority=30,
)
