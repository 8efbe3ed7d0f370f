"""Writes throwaway TLS material for local development and tests: never use it in production.

One CA signs a server certificate for localhost/127.0.0.1 and a client certificate (for mutual
TLS). Dev-only: needs the trustme package from the dev extras.

    python -m devtools.dev_certs --out dev-certs
"""

from __future__ import annotations

import argparse
from pathlib import Path

import trustme


def write_certs(out: Path) -> None:
    """ca.pem; server.pem and server.key; client.pem and client.key, all PEM, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    ca = trustme.CA(organization_name="matcher dev CA")
    ca.cert_pem.write_to_path(out / "ca.pem")
    for name, leaf in (
        ("server", ca.issue_cert("localhost", "127.0.0.1")),
        ("client", ca.issue_cert("matcher-dev-client")),
    ):
        leaf.private_key_pem.write_to_path(out / f"{name}.key")
        (out / f"{name}.pem").write_bytes(b"".join(pem.bytes() for pem in leaf.cert_chain_pems))
    for key in out.glob("*.key"):
        key.chmod(0o600)


def main() -> None:
    """Parses --out and writes the files there."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    write_certs(parser.parse_args().out)


if __name__ == "__main__":
    main()
