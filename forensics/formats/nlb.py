"""AWS Network Load Balancer access logs (TLS listeners): one line per TLS connection.

Fields, as documented in "Access logs for your Network Load Balancer" → "Access log entries"
(https://docs.aws.amazon.com/elasticloadbalancing/latest/network/load-balancer-access-logs.html):
type version time elb listener client:port destination:port connection_time
tls_handshake_time received_bytes sent_bytes incoming_tls_alert chosen_cert_arn
chosen_cert_serial tls_cipher tls_protocol_version tls_named_group domain_name
alpn_fe_protocol alpn_be_protocol alpn_client_preference_list tls_connection_creation_time
(the last one is newer: older lines end before it). No field is quoted; the ALPN preference
list holds quotes as data (``"h2","http/1.1"``).

* A connection, not an HTTP request: method, path and status stay NULL.
* time: "the time recorded at the end of the TLS connection, in ISO 8601 format", written
  without an offset. It is UTC: log files cover a 5-minute interval named by its end time in
  UTC (``20181220T2340Z`` "contains entries for requests made between 23:35 and 23:40"), and
  every ELB time is UTC. So no --tz; ``ts_offset_min`` is NULL (the line does not say).
* duration_ms = connection_time (milliseconds); host = domain_name (the SNI server name,
  URL-encoded as logged); bytes from received_bytes/sent_bytes. The rest is in ``nlb[1]``.
"""

from forensics.formats.awslog import AwsField, AwsFormat

FORMAT = AwsFormat(
    name="nlb",
    description="AWS Network Load Balancer access logs (TLS connections; no HTTP request).",
    example='tls 2.0 2024-03-12T10:00:00 net/my-network-loadbalancer/c6e77e28c25b2234 g3d4b5e8bb8464cd 203.0.113.9:51341 172.100.100.185:443 5 2 98 246 - arn:aws:acm:us-east-2:671290407336:certificate/2a108f19-aded-46b0-8493-c63eb1ef4a99 - ECDHE-RSA-AES128-SHA tlsv12 - api.example.com h2 h2 "h2","http/1.1" 2024-03-12T09:59:59',
    fields=(
        AwsField("type", kind="word"),
        AwsField("version", kind="ms"),
        AwsField("time", kind="iso_utc", column="ts"),
        AwsField("elb"),
        AwsField("listener"),
        AwsField("client:port", kind="addr_port", column="client_ip"),
        AwsField("destination:port"),
        AwsField("connection_time", kind="ms", column="duration_ms"),
        AwsField("tls_handshake_time", kind="ms"),
        AwsField("received_bytes", kind="int", column="bytes_received"),
        AwsField("sent_bytes", kind="int", column="bytes_sent"),
        AwsField("incoming_tls_alert"),
        AwsField("chosen_cert_arn"),
        AwsField("chosen_cert_serial"),
        AwsField("tls_cipher"),
        AwsField("tls_protocol_version"),
        AwsField("tls_named_group"),
        AwsField("domain_name", column="host"),
        AwsField("alpn_fe_protocol"),
        AwsField("alpn_be_protocol"),
        AwsField("alpn_client_preference_list"),
        AwsField("tls_connection_creation_time", kind="iso_utc"),
    ),
    required=21,
    quoting=False,
)
