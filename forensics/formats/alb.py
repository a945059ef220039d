"""AWS Application Load Balancer access logs (one line per request or WebSocket connection).

Fields, in order, as documented in "Access logs for your Application Load Balancer" → "Access
log entries" (https://docs.aws.amazon.com/elasticloadbalancing/latest/application/
load-balancer-access-logs.html): type time elb client:port target:port request_processing_time
target_processing_time response_processing_time elb_status_code target_status_code
received_bytes sent_bytes "request" "user_agent" ssl_cipher ssl_protocol target_group_arn
"trace_id" "domain_name" "chosen_cert_arn" matched_rule_priority request_creation_time
"actions_executed" "redirect_url" "error_reason" "target:port_list" "target_status_code_list"
"classification" "classification_reason" conn_trace_id "transformed_host" "transformed_uri"
"request_transform_status". AWS appends fields over time: lines of load balancers from before
a field existed simply end earlier (every line has at least the fields up to ssl_protocol), and
fields after the documented ones are kept in ``extra['trailing']``.

* time: "when the load balancer generated a response to the client", ISO 8601 in UTC with
  ``Z``; ``ts_offset_min`` is 0.
* client:port: IPv6 clients are written without brackets (``2a02:…:f215:50718``): the address
  is everything before the last colon; the port goes to ``alb[1].client_port``.
* status = elb_status_code (``-`` when no response was sent); target_status_code in ``alb[1]``.
* duration_ms = request + target + response processing time, in ms, when none of them is
  ``-1`` ("set to -1 if the load balancer can't dispatch the request to a target"); else
  NULL. The three are kept in ``alb[1]`` in seconds (a ``-1`` is NULL: no value).
* request_id = trace_id (the X-Amzn-Trace-Id header); host, path, query, method and protocol
  come from the request line, which carries an absolute URL (``https://host:443/path``, so
  host keeps the port as logged). A request that never became one ("- - - ", failed TLS,
  WAF/auth errors) is still an event with what is known; its request text is in request_raw.
* Everything else (type, elb, target:port, TLS, target group, certificate, rule, actions,
  error reason, classification, conn_trace_id …) is in the typed column ``alb`` (a list of one
  struct, schema.AWS_FIELDS) under the documented name (``x:port`` as ``x_port``).
"""

from forensics.formats.awslog import AwsField, AwsFormat

FIELDS = (
    AwsField("type", kind="word"),  # http https h2 grpcs ws wss ("ignore any other values")
    AwsField("time", kind="iso_time", column="ts"),
    AwsField("elb"),
    AwsField("client:port", kind="addr_port", column="client_ip"),
    AwsField("target:port"),
    AwsField("request_processing_time", kind="seconds", column="duration_ms", keep=True),
    AwsField("target_processing_time", kind="seconds", column="duration_ms", keep=True),
    AwsField("response_processing_time", kind="seconds", column="duration_ms", keep=True),
    AwsField("elb_status_code", kind="status", column="status"),
    AwsField("target_status_code", kind="status"),
    AwsField("received_bytes", kind="int", column="bytes_received"),
    AwsField("sent_bytes", kind="int", column="bytes_sent"),
    AwsField("request", quoted="yes", column="_request"),
    AwsField("user_agent", quoted="yes", column="user_agent"),
    AwsField("ssl_cipher"),
    AwsField("ssl_protocol"),
    AwsField("target_group_arn"),
    AwsField("trace_id", quoted="yes", column="request_id"),
    AwsField("domain_name", quoted="either"),
    AwsField("chosen_cert_arn", quoted="either"),
    AwsField("matched_rule_priority"),
    AwsField("request_creation_time"),
    AwsField("actions_executed", quoted="either"),
    AwsField("redirect_url", quoted="either"),
    AwsField("error_reason", quoted="either"),
    # documented quoted, but AWS's own examples write these two unquoted
    AwsField("target:port_list", quoted="either"),
    AwsField("target_status_code_list", quoted="either"),
    AwsField("classification", quoted="either"),
    AwsField("classification_reason", quoted="either"),
    AwsField("conn_trace_id", quoted="either", usual="no"),
    AwsField("transformed_host", quoted="either"),
    AwsField("transformed_uri", quoted="either"),
    AwsField("request_transform_status", quoted="either"),
)

FORMAT = AwsFormat(
    name="alb",
    description="AWS Application Load Balancer access logs (all documented fields; older and newer field counts).",
    example='h2 2024-03-12T10:00:00.186641Z app/prod-api/50dc6c495c0c9188 203.0.113.9:48160 10.0.0.66:9000 0.001 0.045 0.000 200 200 412 1832 "GET https://api.example.com:443/api/v2/referrals/51234?full=1 HTTP/2.0" "curl/8.4.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2 arn:aws:elasticloadbalancing:eu-west-2:123456789012:targetgroup/api/73e2d6bc24d8a067 "Root=1-65f02a3c-72bd00b0343d75b906739c42" "api.example.com" "arn:aws:acm:eu-west-2:123456789012:certificate/12345678-1234-1234-1234-123456789012" 1 2024-03-12T10:00:00.140000Z "forward" "-" "-" "10.0.0.66:9000" "200" "-" "-" TID_b33932fc40603344b9a76c1b94b208fd',
    fields=FIELDS,
    required=16,
)
