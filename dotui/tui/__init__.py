"""The Textual front end: ``run_tui(facade, args)`` opens it over an engine facade."""


def run_tui(facade, args=None) -> int:
    from .app import run_tui as _run

    return _run(facade, args)


__all__ = ["run_tui"]
