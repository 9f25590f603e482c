"""`python -m src.team start|stop|status|env`: the team's PostgreSQL and MLflow tracking server.

`start` creates the cluster once and starts both servers on free loopback ports; `stop` stops
them by PID; `status` reports (passwords masked); `env` prints the shell lines a worker
evaluates, ``eval "$(python -m src.team env)"``, and is the only command that shows a password.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from src.errors import report_user_errors
from src.team import servers


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--root",
        type=Path,
        default=None,
        help=f"team folder (default: ${servers.TEAM_DIR_ENV}, else .team/ in the project)",
    )
    parser = argparse.ArgumentParser(prog="python -m src.team", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("start", parents=[common], help="start PostgreSQL and MLflow")
    start.add_argument("--mlflow-workers", type=int, default=servers.TeamSettings.mlflow_workers)
    start.add_argument("--timeout", type=float, default=servers.TeamSettings.timeout)
    start.add_argument("--pg-bin", type=Path, default=None, help="folder with initdb and pg_ctl")
    commands.add_parser("stop", parents=[common], help="stop both servers by PID")
    commands.add_parser("status", parents=[common], help="report both servers")
    commands.add_parser(
        "env", parents=[common], help="print MLFLOW_TRACKING_URI and OPTUNA_STORAGE"
    )
    return parser.parse_args(argv)


@report_user_errors
def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    root = args.root or servers.default_root()
    if args.command == "start":
        settings = servers.TeamSettings(
            root=root, mlflow_workers=args.mlflow_workers, timeout=args.timeout, pg_bin=args.pg_bin
        )
        servers.start(settings)
        for line in servers.status(root):
            print(line.line())
        print('Workers set their URLs with: eval "$(python -m src.team env)" (shows the password)')
    elif args.command == "stop":
        for line in servers.stop(root):
            print(line)
    elif args.command == "status":
        for line in servers.status(root):
            print(line.line())
    else:
        for line in servers.env_lines(root):
            print(line)


if __name__ == "__main__":
    main()
