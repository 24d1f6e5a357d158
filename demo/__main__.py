"""Command line for the demo world: generate it, or serve it as a Bitrix24 webhook.

python -m demo generate --size M --today 2026-11-23 --seed 42 --out DIR
python -m demo serve --world DIR [--port 0] [--secret S]
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from datetime import date
from pathlib import Path

from demo.portal import DEFAULT_SECRET, DemoPortal
from demo.world import ensure_world, generate


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m demo", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="write a demo world into a folder")
    gen.add_argument("--size", choices=("S", "M", "L"), default="M")
    gen.add_argument("--today", type=date.fromisoformat, default=None, help="last day of the world (default: today)")
    gen.add_argument("--seed", type=int, default=42)
    gen.add_argument("--out", type=Path, required=True)
    gen.add_argument("--force", action="store_true", help="regenerate even if the folder holds this world")
    srv = sub.add_parser("serve", help="serve a written world as a Bitrix24 incoming webhook on 127.0.0.1")
    srv.add_argument("--world", type=Path, required=True)
    srv.add_argument("--port", type=int, default=0)
    srv.add_argument("--secret", default=DEFAULT_SECRET)
    args = parser.parse_args(argv)

    if args.command == "generate":
        t0 = time.perf_counter()
        if args.force:
            world = generate(args.size, args.today or date.today(), args.seed)
            world.write(args.out)
        else:
            ensure_world(args.out, args.size, args.today or date.today(), args.seed)
        print(f"demo world {args.size} seed={args.seed} written to {args.out} in {time.perf_counter() - t0:.1f} s")
        return 0

    portal = DemoPortal(args.world, secret=args.secret, port=args.port)
    url = portal.start()
    print(url, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        portal.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
