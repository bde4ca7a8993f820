"""What ufopctl prints: JSON for scripts (``--json``), rich tables and blocks for people.
Results go to stdout; progress, spinners and errors to stderr, so a pipe gets only results."""
import json

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

stdout = Console(highlight=False, soft_wrap=False)
stderr = Console(stderr=True, highlight=False)


def emit_json(data):
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def show(as_json, data, human):
    """``data`` as JSON with --json, else ``human(data)``."""
    if as_json:
        emit_json(data)
    else:
        human(data)


def table(columns, rows, empty="(none)"):
    if not rows:
        stdout.print(empty)
        return
    grid = Table(show_edge=False, box=None, pad_edge=False, header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*(Text("" if cell is None else str(cell)) for cell in row))
    stdout.print(grid)


def block(pairs):
    """``key: value`` lines, the keys aligned: one record, readable."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for key, value in pairs:
        grid.add_row(key, Text("" if value is None else str(value)))
    stdout.print(grid)


def say(message):
    """A line for the person at the terminal (stderr: never mixed into results)."""
    click.echo(message, err=True)


def text(value):
    """Raw text to stdout, as it is (a log, a build output)."""
    click.echo(value)


def error(message):
    click.echo(f"Error: {message}", err=True)
