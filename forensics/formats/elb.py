"""AWS Classic Load Balancer (ELB) access logs.

Fields, as documented in "Access logs for your Classic Load Balancer" → "Access log entries"
(https://docs.aws.amazon.com/elasticloadbalancing/latest/classic/access-log-collection.html):
timestamp elb client:port backend:port request_processing_time backend_processing_time
response_processing_time elb_status_code backend_status_code received_bytes sent_bytes
"request" "user_agent" ssl_cipher ssl_protocol.

* timestamp: "when the load balancer received the request from the client", ISO 8601 UTC
  with ``Z``.
* TCP/SSL listeners log ``"- - - "`` as the request and ``-`` status codes: still events
  (request text in request_raw). received/sent bytes of ``-1`` mean no value (NULL).
* duration_ms, client_ip, status and the typed fields as for ``alb`` (see alb.py): processing times of
  ``-1`` give no duration; backend:port, backend_status_code, ssl_* and elb are in ``elb[1]``.
* A user agent holding quotes is written with ``\\"`` (seen in real logs): such lines are read
  by the tolerant regex and the agent is kept as written.
"""

from forensics.formats.awslog import AwsField, AwsFormat

FORMAT = AwsFormat(
    name="elb",
    description="AWS Classic Load Balancer (ELB) access logs, HTTP and TCP/SSL listeners.",
    example='2024-03-12T10:00:00.945958Z my-loadbalancer 203.0.113.9:2817 10.0.0.1:80 0.000073 0.001048 0.000057 200 200 0 1832 "GET https://www.example.com:443/api/v2/referrals/51234 HTTP/1.1" "curl/8.4.0" ECDHE-RSA-AES128-GCM-SHA256 TLSv1.2',
    fields=(
        AwsField("timestamp", kind="iso_time", column="ts"),
        AwsField("elb"),
        AwsField("client:port", kind="addr_port", column="client_ip"),
        AwsField("backend:port"),
        AwsField("request_processing_time", kind="seconds", column="duration_ms", keep=True),
        AwsField("backend_processing_time", kind="seconds", column="duration_ms", keep=True),
        AwsField("response_processing_time", kind="seconds", column="duration_ms", keep=True),
        AwsField("elb_status_code", kind="status", column="status"),
        AwsField("backend_status_code", kind="status"),
        AwsField("received_bytes", kind="int", column="bytes_received"),
        AwsField("sent_bytes", kind="int", column="bytes_sent"),
        AwsField("request", quoted="yes", column="_request"),
        AwsField("user_agent", quoted="yes", column="user_agent"),
        AwsField("ssl_cipher"),
        AwsField("ssl_protocol"),
    ),
    required=15,
)
