"""Amazon S3 server access logs (one line per request to a bucket).

Fields, as documented in "Amazon S3 server access log format" → "Log record fields"
(https://docs.aws.amazon.com/AmazonS3/latest/userguide/LogFormat.html), named as AWS's Athena
table names them: bucket_owner bucket [time] remote_ip requester request_id operation key
"request_uri" http_status error_code bytes_sent object_size total_time turn_around_time
"referer" "user_agent" version_id host_id signature_version cipher_suite authentication_type
host_header tls_version access_point_arn acl_required source_region. Older logs end after
version_id or later; fields after the documented ones go to ``extra['trailing']`` ("Programming
considerations for extensible server access log format": new fields are appended).

* time: ``[06/Feb/2019:00:00:38 +0000]``, "in Coordinated Universal Time (UTC)".
* principal = requester (canonical user id or IAM ARN; ``-`` = unauthenticated → NULL).
* bucket, operation (``REST.GET.OBJECT`` …) and key (URL-encoded) are in ``s3[1]`` under those
  names: a record read is ``s3[1].operation = 'REST.GET.OBJECT'`` on ``s3[1].key``.
* request_id = request_id; host = host_header; duration_ms = total_time (ms); bytes_sent
  from bytes_sent, where ``-`` means zero ("or '-' if zero").
* The request URI is a request line (``GET /bucket/key?x HTTP/1.1``); copy operations log one
  without the HTTP version. User agents may hold bare quotes (seen in real logs): such lines
  go to the tolerant regex and keep the agent as written.
"""

from forensics.formats.awslog import AwsField, AwsFormat

FORMAT = AwsFormat(
    name="s3",
    description="Amazon S3 server access logs (requester, operation, key, bucket; older and newer field counts).",
    example='79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be patient-docs [12/Mar/2024:10:00:00 +0000] 203.0.113.9 arn:aws:iam::123456789012:user/svc-export 3E57427F3EXAMPLE REST.GET.OBJECT referrals/51234.pdf "GET /patient-docs/referrals/51234.pdf?versionId=abc HTTP/1.1" 200 - 1832 1832 41 28 "-" "aws-cli/2.15.0 Python/3.11" - s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6UkFVdtjf5mKR3/eTPFvsiP/XV/VLi31234= SigV4 ECDHE-RSA-AES128-GCM-SHA256 AuthHeader patient-docs.s3.eu-west-2.amazonaws.com TLSv1.2 - -',
    fields=(
        AwsField("bucket_owner"),
        AwsField("bucket"),
        AwsField("time", kind="clf_bracket", column="ts"),
        AwsField("remote_ip", column="client_ip"),
        AwsField("requester", column="principal"),
        AwsField("request_id", column="request_id"),
        AwsField("operation"),
        AwsField("key"),
        AwsField("request_uri", quoted="either", column="_request"),
        AwsField("http_status", kind="status", column="status"),
        AwsField("error_code"),
        AwsField("bytes_sent", kind="zero_int", column="bytes_sent"),
        AwsField("object_size"),
        AwsField("total_time", kind="ms", column="duration_ms"),
        AwsField("turn_around_time"),
        AwsField("referer", quoted="either", column="referer"),
        AwsField("user_agent", quoted="either", column="user_agent"),
        AwsField("version_id"),
        AwsField("host_id"),
        AwsField("signature_version"),
        AwsField("cipher_suite"),
        AwsField("authentication_type"),
        AwsField("host_header", column="host"),
        AwsField("tls_version"),
        AwsField("access_point_arn"),
        AwsField("acl_required"),
        AwsField("source_region"),
    ),
    required=18,
)
