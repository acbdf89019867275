"""Client smoke test: boto3 and the aws CLI, with their default settings, against Keygate.

Run by reference-server/tests/clients.rs, which starts the server binary and passes:
  KEYGATE_ENDPOINT    http://127.0.0.1:PORT
  KEYGATE_AWS         path of the aws CLI (same venv as this interpreter)
  KEYGATE_WORK        a scratch directory
  AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY   the root keys
  AWS_CONFIG_FILE     a config with region us-east-1 and path-style addressing

Each check prints one line; the first failure raises and the process exits non-zero.
SPEC rules exercised: V1 (SigV2 presign refused, SigV4 accepted), V2 (the clients' default
CRC32 checksums and aws-chunked trailers), V6 (presigned URLs), U4, and the S3 operations list.
"""

import hashlib
import os
import subprocess
import sys
import urllib.error
import urllib.request

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["KEYGATE_ENDPOINT"]
AWS = os.environ["KEYGATE_AWS"]
WORK = os.environ["KEYGATE_WORK"]
MIB = 1024 * 1024


def check(name, cond, detail=""):
    if not cond:
        raise AssertionError(f"FAILED {name}: {detail}")
    print(f"ok   {name}", flush=True)


def client(**config):
    cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config)
    return boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1", config=cfg)


def error_code(fn):
    try:
        fn()
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def http(method, url, body=None):
    req = urllib.request.Request(url, data=body, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(MIB), b""):
            h.update(block)
    return h.hexdigest()


def make_file(path, size):
    # Deterministic, incompressible-looking content.
    seed = hashlib.sha256(path.encode()).digest()
    with open(path, "wb") as f:
        written = 0
        block = seed * (MIB // len(seed))
        while written < size:
            chunk = block[: min(len(block), size - written)]
            f.write(chunk)
            written += len(chunk)
            block = hashlib.sha256(block[:32]).digest() * (MIB // 32)


def boto3_checks():
    s3 = client()
    s3.create_bucket(Bucket="boto")
    check("boto3 create_bucket / list_buckets",
          "boto" in [b["Name"] for b in s3.list_buckets()["Buckets"]])

    put = s3.put_object(Bucket="boto", Key="dir/hello.txt", Body=b"hello keygate",
                        Metadata={"colour": "blue"})
    check("boto3 put_object (default checksum)", put["ETag"].strip('"') ==
          hashlib.md5(b"hello keygate").hexdigest(), put)
    got = s3.get_object(Bucket="boto", Key="dir/hello.txt")
    check("boto3 get_object", got["Body"].read() == b"hello keygate")
    check("boto3 user metadata", got["Metadata"].get("colour") == "blue", got["Metadata"])
    head = s3.head_object(Bucket="boto", Key="dir/hello.txt")
    check("boto3 head_object", head["ContentLength"] == len(b"hello keygate"))
    rng = s3.get_object(Bucket="boto", Key="dir/hello.txt", Range="bytes=6-12")
    check("boto3 ranged get", rng["Body"].read() == b"keygate")

    check("boto3 NoSuchKey",
          error_code(lambda: s3.get_object(Bucket="boto", Key="missing")) == "NoSuchKey")

    # 20 MiB through the transfer manager: multipart with the default 8 MiB threshold.
    src = os.path.join(WORK, "boto-20mib.bin")
    make_file(src, 20 * MIB)
    s3.upload_file(src, "boto", "big/20mib.bin")
    dst = os.path.join(WORK, "boto-20mib.out")
    s3.download_file("boto", "big/20mib.bin", dst)
    check("boto3 upload_file/download_file 20 MiB (multipart)",
          sha256_file(src) == sha256_file(dst))

    listed = s3.list_objects_v2(Bucket="boto", Prefix="", Delimiter="/")
    check("boto3 list_objects_v2 with delimiter",
          sorted(p["Prefix"] for p in listed.get("CommonPrefixes", [])) == ["big/", "dir/"],
          listed)

    s3.copy_object(Bucket="boto", Key="copy.txt",
                   CopySource={"Bucket": "boto", "Key": "dir/hello.txt"})
    check("boto3 copy_object",
          s3.get_object(Bucket="boto", Key="copy.txt")["Body"].read() == b"hello keygate")

    s3.put_object_tagging(Bucket="boto", Key="copy.txt",
                          Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    tags = s3.get_object_tagging(Bucket="boto", Key="copy.txt")["TagSet"]
    check("boto3 object tagging", tags == [{"Key": "k", "Value": "v"}], tags)

    # Presigned URLs: SigV4 works; whatever boto3 presigns by default either is SigV4 and works
    # or is SigV2 and is refused with 400 InvalidRequest (SPEC V1).
    v4 = client(signature_version="s3v4")
    url = v4.generate_presigned_url("get_object", Params={"Bucket": "boto", "Key": "dir/hello.txt"},
                                    ExpiresIn=300)
    check("boto3 presigned URL is SigV4", "X-Amz-Signature=" in url, url)
    status, body = http("GET", url)
    check("boto3 presigned GET (s3v4)", (status, body) == (200, b"hello keygate"), (status, body))
    url = v4.generate_presigned_url("put_object", Params={"Bucket": "boto", "Key": "presigned.txt"},
                                    ExpiresIn=300)
    status, _ = http("PUT", url, b"via presigned put")
    check("boto3 presigned PUT (s3v4)", status == 200, status)
    check("boto3 presigned PUT stored",
          s3.get_object(Bucket="boto", Key="presigned.txt")["Body"].read() == b"via presigned put")
    # SigV2 presigning (boto3's historical default for S3) is refused: 400 InvalidRequest.
    v2 = client(signature_version="s3")
    v2_url = v2.generate_presigned_url(
        "get_object", Params={"Bucket": "boto", "Key": "dir/hello.txt"}, ExpiresIn=300)
    check("boto3 s3 (SigV2) presign is SigV2", "AWSAccessKeyId=" in v2_url, v2_url)
    status, body = http("GET", v2_url)
    check("boto3 SigV2 presigned GET refused with 400 InvalidRequest",
          status == 400 and b"<Code>InvalidRequest</Code>" in body, (status, body))

    # U4 through the SDK.
    bad = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1",
                       aws_access_key_id="NOSUCHKEYNOSUCHKEY00",
                       aws_secret_access_key="x" * 40,
                       config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    check("boto3 unknown key -> InvalidAccessKeyId",
          error_code(lambda: bad.list_buckets()) == "InvalidAccessKeyId")
    wrong = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1",
                         aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                         aws_secret_access_key="wrong-secret",
                         config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
    check("boto3 wrong secret -> SignatureDoesNotMatch",
          error_code(lambda: wrong.list_buckets()) == "SignatureDoesNotMatch")

    resp = s3.delete_objects(Bucket="boto", Delete={"Objects": [
        {"Key": k} for k in ["dir/hello.txt", "big/20mib.bin", "copy.txt", "presigned.txt"]]})
    check("boto3 delete_objects", len(resp.get("Deleted", [])) == 4 and not resp.get("Errors"),
          resp)
    s3.delete_bucket(Bucket="boto")
    check("boto3 delete_bucket",
          "boto" not in [b["Name"] for b in s3.list_buckets()["Buckets"]])


def aws(*args, capture=True):
    cmd = [AWS, "--endpoint-url", ENDPOINT, *args]
    res = subprocess.run(cmd, capture_output=capture, text=True, timeout=120)
    if res.returncode != 0:
        raise AssertionError(f"FAILED {' '.join(args)} (exit {res.returncode}):\n"
                             f"{res.stdout}\n{res.stderr}")
    return res.stdout


def cli_checks():
    aws("s3", "mb", "s3://cli")
    check("aws s3 mb", "cli" in aws("s3", "ls"))

    src = os.path.join(WORK, "cli-20mib.bin")
    make_file(src, 20 * MIB)
    aws("s3", "cp", src, "s3://cli/up/20mib.bin")
    dst = os.path.join(WORK, "cli-20mib.out")
    aws("s3", "cp", "s3://cli/up/20mib.bin", dst)
    check("aws s3 cp 20 MiB up and down (multipart)", sha256_file(src) == sha256_file(dst))
    # Between two S3 locations, over the 8 MiB threshold: UploadPartCopy, part by part.
    aws("s3", "cp", "s3://cli/up/20mib.bin", "s3://cli/copied/20mib.bin")
    copied = os.path.join(WORK, "cli-20mib.copied")
    aws("s3", "cp", "s3://cli/copied/20mib.bin", copied)
    check("aws s3 cp 20 MiB S3 to S3 (UploadPartCopy)", sha256_file(src) == sha256_file(copied))

    small = os.path.join(WORK, "small.txt")
    with open(small, "wb") as f:
        f.write(b"small object via s3api")
    out = aws("s3api", "put-object", "--bucket", "cli", "--key", "api/small.txt",
              "--body", small)
    check("aws s3api put-object", '"ETag"' in out, out)
    got = os.path.join(WORK, "small.out")
    aws("s3api", "get-object", "--bucket", "cli", "--key", "api/small.txt", got)
    with open(got, "rb") as f:
        check("aws s3api get-object", f.read() == b"small object via s3api")

    listing = aws("s3", "ls", "--recursive", "s3://cli/")
    check("aws s3 ls --recursive",
          "up/20mib.bin" in listing and "api/small.txt" in listing, listing)

    url = aws("s3", "presign", "s3://cli/api/small.txt", "--expires-in", "300").strip()
    status, body = http("GET", url)
    if "X-Amz-Signature=" in url:
        check("aws s3 presign (SigV4) GET", (status, body) == (200, b"small object via s3api"),
              (status, url))
    else:
        check("aws s3 presign (SigV2) refused with InvalidRequest",
              status == 400 and b"<Code>InvalidRequest</Code>" in body, (status, body))

    aws("s3", "rm", "--recursive", "s3://cli/")
    check("aws s3 rm --recursive", aws("s3", "ls", "--recursive", "s3://cli/").strip() == "")
    aws("s3", "rb", "s3://cli")
    check("aws s3 rb", "cli" not in aws("s3", "ls").split())


def main():
    boto3_checks()
    cli_checks()
    print("all client checks passed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(e, file=sys.stderr, flush=True)
        sys.exit(1)
