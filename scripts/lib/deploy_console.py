"""Uploads the built admin console (console/dist) to the platform stack's console bucket, under
console/, with its runtime settings (console/config.json), removes what the build no longer
has, and invalidates the distribution.

    deploy_console.py --stack NAME                  the stack's outputs and PublicBaseUrl
    deploy_console.py --bucket B --issuer-base URL [--distribution ID]
    deploy_console.py --check                       the same against moto (CI), then checks
                                                    every object, its type and config.json

AWS comes from the environment (AWS_PROFILE, AWS_REGION, AWS_ENDPOINT_URL for moto).
"""

import argparse
import json
import mimetypes
import os
import subprocess
import sys
import time

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DIST = os.path.join(ROOT, "console", "dist")
PREFIX = "console/"
TYPES = {".js": "text/javascript", ".css": "text/css", ".html": "text/html; charset=utf-8",
         ".json": "application/json", ".svg": "image/svg+xml", ".map": "application/json"}


def built_files():
    if not os.path.isfile(os.path.join(DIST, "index.html")):
        sys.exit(f"deploy-console: {DIST} has no index.html: run scripts/setup (it builds the console)")
    for base, _, names in os.walk(DIST):
        for name in sorted(names):
            path = os.path.join(base, name)
            yield path, PREFIX + os.path.relpath(path, DIST).replace(os.sep, "/")


def content_type(key):
    ext = os.path.splitext(key)[1]
    return TYPES.get(ext) or mimetypes.guess_type(key)[0] or "application/octet-stream"


def upload(s3, bucket, issuer_base):
    if not issuer_base.startswith("https://") and not issuer_base.startswith("http://127.0.0.1"):
        sys.exit(f"deploy-console: the issuer base must be https: {issuer_base}")
    wanted = {}
    for path, key in built_files():
        with open(path, "rb") as f:
            wanted[key] = f.read()
    wanted[PREFIX + "config.json"] = json.dumps({"issuer_base": issuer_base.rstrip("/")}).encode()
    for key, body in sorted(wanted.items()):
        s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type(key))
        print(f"    {key} ({len(body)} bytes, {content_type(key)})")
    stale = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=PREFIX):
        stale += [o["Key"] for o in page.get("Contents", []) if o["Key"] not in wanted]
    for key in stale:
        s3.delete_object(Bucket=bucket, Key=key)
        print(f"    removed {key}")
    return wanted


def invalidate(distribution):
    cloudfront = boto3.client("cloudfront")
    cloudfront.create_invalidation(DistributionId=distribution, InvalidationBatch={
        "Paths": {"Quantity": 1, "Items": ["/console/*"]}, "CallerReference": str(time.time())})
    print(f"    invalidated /console/* on {distribution}")


def from_stack(name):
    stack = boto3.client("cloudformation").describe_stacks(StackName=name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack.get("Parameters", [])}
    if "ConsoleBucketName" not in outputs:
        sys.exit(f"deploy-console: stack {name} has no console (set ConsoleDomain and ConsoleCertificateArn)")
    return outputs["ConsoleBucketName"], params["PublicBaseUrl"], outputs.get("ConsoleDistributionId")


def check():
    """Against moto: an upload, a second one after a file disappeared, every object's type."""
    port = subprocess.check_output([sys.executable, "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"]).decode().strip()
    moto = subprocess.Popen([os.path.join(os.path.dirname(sys.executable), "moto_server"), "-H", "127.0.0.1", "-p", port],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        os.environ.update(AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_REGION="us-east-1",
                          AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local")
        s3 = boto3.client("s3")
        for _ in range(100):
            try:
                s3.list_buckets()
                break
            except Exception:  # moto is still starting
                time.sleep(0.1)
        s3.create_bucket(Bucket="console-check")
        s3.put_object(Bucket="console-check", Key=PREFIX + "assets/old-build.js", Body=b"old")
        s3.put_object(Bucket="console-check", Key="elsewhere.txt", Body=b"kept")
        wanted = upload(s3, "console-check", "https://sso.example.com")
        keys = {o["Key"] for o in s3.list_objects_v2(Bucket="console-check")["Contents"]}
        assert keys == set(wanted) | {"elsewhere.txt"}, keys
        index = s3.get_object(Bucket="console-check", Key=PREFIX + "index.html")
        assert index["ContentType"] == "text/html; charset=utf-8", index["ContentType"]
        scripts = [k for k in wanted if k.endswith(".js")]
        assert scripts and all(s3.head_object(Bucket="console-check", Key=k)["ContentType"] == "text/javascript" for k in scripts)
        settings = json.loads(s3.get_object(Bucket="console-check", Key=PREFIX + "config.json")["Body"].read())
        assert settings == {"issuer_base": "https://sso.example.com"}, settings
        print(f"deploy-console --check: {len(wanted)} objects under {PREFIX} with their types, config.json, the stale build removed")
    finally:
        moto.terminate()
        moto.wait(timeout=10)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stack")
    parser.add_argument("--bucket")
    parser.add_argument("--issuer-base")
    parser.add_argument("--distribution")
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        return check()
    if args.stack:
        bucket, issuer_base, distribution = from_stack(args.stack)
    elif args.bucket and args.issuer_base:
        bucket, issuer_base, distribution = args.bucket, args.issuer_base, args.distribution
    else:
        parser.error("give --stack, or --bucket and --issuer-base")
    print(f"==> console/dist → s3://{bucket}/{PREFIX}")
    upload(boto3.client("s3"), bucket, issuer_base)
    if distribution:
        invalidate(distribution)


if __name__ == "__main__":
    main()
