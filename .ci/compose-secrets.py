"""Reads `docker compose config` (rendered without the secrets) on stdin. Fails if the file gives any service a
default secret, or if MinIO's start guard would run MinIO without an 8+ character password (MinIO falls back to its
well-known default credentials when it has none). pyyaml: docker-compose itself depends on it."""
import subprocess
import sys

import yaml

SECRETS = ("GATEWAY_SIGNING_SECRET", "JWT_SECRET", "S3_SECRET_ACCESS_KEY", "MINIO_ROOT_PASSWORD")

services = yaml.safe_load(sys.stdin)["services"]
for name, service in services.items():
    for key, value in (service.get("environment") or {}).items():
        if key in SECRETS and value:
            sys.exit(f"docker-compose.yml gives {name} a default {key}")

minio = services["minio"]
# The guard as the container's shell gets it ($$ is compose's escape for $), with MinIO's entrypoint replaced.
guard = [p.replace("$$", "$").replace("/usr/bin/docker-entrypoint.sh", "true") for p in minio["entrypoint"]]
for password, starts in (("", False), ("short", False), ("long-enough-password", True)):
    run = subprocess.run(
        guard + minio["command"],
        env={"MINIO_ROOT_PASSWORD": password, "PATH": "/usr/bin:/bin"},
        capture_output=True,
    )
    if (run.returncode == 0) != starts:
        verdict = "starts" if run.returncode == 0 else "refuses"
        sys.exit(f"MinIO's start guard {verdict} with a {len(password)}-character password")
